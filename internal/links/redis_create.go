package links

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// createRedisLink is createLink for a Redis remote: in one transaction,
// under the link's lock, pglinks_redis if it is missing (superusers only),
// a server, a user mapping holding the Redis' password, the link's schema
// and its tables. Before any of it the Redis is asked, through the wrapper
// itself and in a savepoint that is rolled back, whether it answers and
// takes the credentials (pglinks_redis_ping), so the preview is a real
// pre-flight and a create never makes a link that cannot connect.
func (s *Service) createRedisLink(ctx context.Context, req CreateRequest, remote, local *fleet.Database, dry bool) (*CreateResult, *CreatePreview, error) {
	if req.Name == "" {
		var err error
		if req.Name, err = s.defaultName(ctx, local, remote, ""); err != nil {
			return nil, nil, err
		}
	}
	if err := ValidateName(req.Name); err != nil {
		return nil, nil, err
	}
	tables, err := checkRedisTables(req.RedisTables)
	if err != nil {
		return nil, nil, err
	}
	id, createdAt, previewed, err := parseToken(req.Token)
	if err != nil {
		return nil, nil, err
	}
	tx, done, err := s.beginLocked(ctx, local, req.Name)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	if err := checkNameFree(ctx, tx, local, req.Name); err != nil {
		return nil, nil, err
	}
	var role string
	var super bool
	if err := tx.QueryRow(ctx, "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&role, &super); err != nil {
		return nil, nil, fmt.Errorf("links: current_user: %w", err)
	}
	sup, err := s.checkRedisSupport(ctx, tx, local, Support{Role: role, Superuser: super})
	if err != nil {
		return nil, nil, err
	}
	if !sup.OK {
		return nil, nil, errs.E(errs.Invalid, "Redis links cannot be made in %s: %s\n%s", local.ConfigVar, sup.Reason, sup.SQL).OnField("local")
	}
	var plan []statement
	if !sup.Installed {
		plan = append(plan, statement{sql: "CREATE EXTENSION IF NOT EXISTS " + redisFDW + " SCHEMA public"})
	}
	meta := linkMeta{
		Version: 1, ID: id, Link: req.Name, CreatedAt: createdAt, CreatedBy: req.Actor,
		RemoteConfigVar: remote.ConfigVar, RemoteResourceName: remote.ResourceName,
		MappingRole: role, ReadOnly: !req.Writable, Kind: string(fleet.KindRedis),
	}
	server, mapping, err := s.redisServerStatements(req.Name, remote, req.Writable)
	if err != nil {
		return nil, nil, err
	}
	plan = append(plan, server, mapping)
	comment, _ := fleet.QuoteLiteral(meta.comment())
	ident := fleet.Ident(req.Name)
	plan = append(plan,
		statement{sql: "CREATE SCHEMA " + ident},
		statement{sql: "COMMENT ON SERVER " + ident + " IS " + comment},
		statement{sql: "COMMENT ON SCHEMA " + ident + " IS " + comment},
	)
	var described []string
	for _, t := range tables {
		st, err := redisTableStatement(req.Name, t)
		if err != nil {
			return nil, nil, err
		}
		plan = append(plan, st)
		described = append(described, t.Describe())
	}

	// The pre-flight: what the create makes up to the user mapping, a
	// ping through it, all rolled back.
	check := plan[:len(plan)-len(tables)-3]
	info, err := s.checkRedisThrough(ctx, tx, local, remote, req.Name, check)
	if err != nil {
		return nil, nil, err
	}
	shown := shownAll(plan)
	if dry {
		return nil, &CreatePreview{Name: req.Name, Statements: shown, Tables: described, Token: makeToken(id, createdAt, planHash(shown, described)), Redis: &info}, nil
	}
	if previewed != "" && previewed != planHash(shown, described) {
		return nil, nil, errs.E(errs.Conflict, "What creating link %q would run changed since the preview (the Redis or the local database changed). Preview the SQL again; nothing was created.", req.Name)
	}
	res := &CreateResult{}
	if res.DDL, err = s.runPlan(ctx, tx, local, nil, "", plan, func(_ statement, err error) error {
		return s.createError(local, remote, req.Name, err)
	}); err != nil {
		return nil, nil, err
	}
	rec := LinkRecord{
		ID: meta.ID, LocalConfigVar: local.ConfigVar, Name: req.Name,
		RemoteConfigVar: remote.ConfigVar, RemoteResourceName: remote.ResourceName,
		MappingRole: role, CreatedAt: meta.CreatedAt, CreatedBy: req.Actor,
		ReadOnly: !req.Writable, Kind: fleet.KindRedis,
	}
	if err := tx.QueryRow(ctx, `SELECT current_database(), s.oid, n.oid,
		(SELECT count(*) FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid WHERE c.relnamespace = n.oid)
		FROM pg_foreign_server s, pg_namespace n WHERE s.srvname = $1 AND n.nspname = $1`, req.Name).
		Scan(&rec.LocalDatabase, &rec.ServerOID, &rec.SchemaOID, &res.Tables); err != nil {
		return nil, nil, fmt.Errorf("links: read back %s: %w", req.Name, err)
	}
	links, _, err := readLinks(ctx, tx, local, &req.Name, map[string]LinkRecord{rec.ID: rec})
	if err != nil || len(links) != 1 {
		return nil, nil, fmt.Errorf("links: read back %s: %v", req.Name, err)
	}
	if s.Registry == nil {
		return nil, nil, errors.New("links: no registry configured")
	}
	if err := s.Registry.AddLink(ctx, rec); err != nil {
		if fleet.PgCode(err) == codeUniqueViolation {
			return nil, nil, errs.Wrap(errs.Conflict, err, "This preview was already used to create a link. Preview again; nothing was created.")
		}
		return nil, nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		s.forget(ctx, rec)
		return nil, nil, s.createError(local, remote, req.Name, err)
	}
	if !sup.Installed {
		s.redisAvail.forget(local.HostPort())
	}
	res.Link = links[0]
	s.invalidate(local)
	s.Log.Info("link created", "local", local.ConfigVar, "remote", remote.ConfigVar, "kind", "redis", "link", req.Name, "tables", res.Tables, "writable", req.Writable, "actor", req.Actor)
	return res, nil, nil
}

// RedisBatchSize is the batch_size of every Redis link's server: keys per
// MGET (or pipelined round trip) of a lookup or a scan.
const RedisBatchSize = 1000

// redisServerStatements are a Redis link's server (where the Redis is, and
// how its certificate is trusted: the URL's CA as PEM text, which every
// role may give, unlike a file the server reads) and user mapping (its
// credentials; masked as shown).
func (s *Service) redisServerStatements(name string, remote *fleet.Database, writable bool) (server, mapping statement, err error) {
	rc := remote.Redis
	opts := [][2]string{{"host", remote.Host}, {"port", remote.Port}, {"db", strconv.Itoa(rc.DB)}}
	if rc.TLS {
		opts = append(opts, [2]string{"tls", "true"})
		if !rc.TLSVerify {
			opts = append(opts, [2]string{"tls_verify", "false"})
		}
		if rc.CAPEM != "" {
			opts = append(opts, [2]string{"tls_ca", rc.CAPEM})
		}
	}
	opts = append(opts, [2]string{"connect_timeout", strconv.Itoa(int(s.Fleet.Deadlines.RemoteConnect.Seconds()))},
		// Keys per MGET (or pipelined round trip) of a lookup or a scan:
		// the wrapper's 100 makes key = ANY(10,000 keys) 100 round trips.
		[2]string{"batch_size", strconv.Itoa(RedisBatchSize)})
	if writable {
		opts = append(opts, [2]string{"writable", "true"})
	}
	list, err := optionList(opts)
	if err != nil {
		return statement{}, statement{}, err
	}
	id := fleet.Ident(name)
	server = statement{sql: "CREATE SERVER " + id + " FOREIGN DATA WRAPPER " + redisFDW + " OPTIONS (" + list + ")"}
	head := "CREATE USER MAPPING FOR CURRENT_USER SERVER " + id
	if remote.Password() == "" {
		// pglinks_redis refuses it for roles that are not superusers, in
		// words, at the pre-flight.
		return server, statement{sql: head}, nil
	}
	password, err := fleet.QuoteLiteral(remote.Password())
	if err != nil {
		return statement{}, statement{}, errs.E(errs.Invalid, "The password in %s cannot be used: %v.", remote.ConfigVar, err)
	}
	user := ""
	if remote.User != "" {
		u, err := fleet.QuoteLiteral(remote.User)
		if err != nil {
			return statement{}, statement{}, errs.E(errs.Invalid, "The user name in %s cannot be used: %v.", remote.ConfigVar, err)
		}
		user = "user " + u + ", "
	}
	mapping = statement{
		sql:    head + " OPTIONS (" + user + "password " + password + ")",
		masked: head + " OPTIONS (" + user + "password '***')",
	}
	return server, mapping, nil
}

// checkRedisThrough runs stmts (a server and its user mapping, and what
// they need) in a savepoint of tx, asks the Redis through them, and rolls
// them back: whether the local database reaches the Redis with these
// credentials, in the wrapper's own words.
func (s *Service) checkRedisThrough(ctx context.Context, tx pgx.Tx, local, remote *fleet.Database, server string, stmts []statement) (fleet.RedisInfo, error) {
	if _, err := tx.Exec(ctx, "SAVEPOINT pglinks_redis_check"); err != nil {
		return fleet.RedisInfo{}, fmt.Errorf("links: savepoint: %w", err)
	}
	info, err := func() (fleet.RedisInfo, error) {
		for _, st := range stmts {
			if err := execOne(ctx, tx, st.sql); err != nil {
				return fleet.RedisInfo{}, s.createError(local, remote, server, err)
			}
		}
		info, err := redisPing(ctx, tx, server)
		if err != nil {
			return info, redisCheckError(local, remote, err, ctx)
		}
		return info, nil
	}()
	if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT pglinks_redis_check; RELEASE SAVEPOINT pglinks_redis_check"); rerr != nil && err == nil {
		err = fmt.Errorf("links: roll back the Redis check: %w", rerr)
	}
	return info, err
}

// redisCheckError words a failed pre-flight through pglinks_redis.
func redisCheckError(local, remote *fleet.Database, err error, ctx context.Context) error {
	if fleet.PgCode(err) == "" && !fleet.IsTimeout(err) {
		return fmt.Errorf("links: Redis check: %w", err)
	}
	return errs.Wrap(errs.Unavailable, err, "%s could not use %s (%s) through pglinks_redis: %s. Nothing was created.",
		local.ConfigVar, remote.ConfigVar, remote.ResourceName, redisReason(remote.ConfigVar, err, ctx)).OnField("remote")
}
