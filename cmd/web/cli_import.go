package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// runImport imports remote tables into a link that reads chosen tables
// (LIMIT TO), as the link page's "Import tables": without --tables it
// lists what may be imported; with them it shows the plan, asks, and
// imports exactly that plan (its fingerprint).
func runImport(ctx context.Context, c *apiClient, f *cliFlags, cio cliIO) error {
	if err := f.want("links:import", "LOCAL", "NAME"); err != nil {
		return err
	}
	local, name := f.args[0], f.args[1]
	path := pathEscape("databases", local, "links", name, "import")
	_, choose := f.strs["tables"]
	var chosen []string
	if choose {
		var err error
		if chosen, err = f.tables("links:import"); err != nil {
			return err
		}
		if err := cannotAsk("links:import", name, f, cio); err != nil {
			return err
		}
	}
	q := url.Values{"table": chosen}
	var plan struct {
		Link struct {
			Tables       []string
			RemoteSchema string `json:"remote_schema"`
		}
		Importable []string
		Unreadable string
		Plan       *struct {
			Tables, SQL, Blockers []string
			CopiedTypes           []string `json:"copied_types"`
			Fingerprint           string
		}
	}
	raw, err := c.get(ctx, path+"?"+q.Encode(), &plan)
	if err != nil {
		return err
	}
	if !choose {
		if f.bools["json"] {
			return writeRaw(cio, raw)
		}
		switch {
		case plan.Link.Tables == nil:
			fmt.Fprintf(cio.out, "Link %s in %s reads every table of %s: there is nothing to import (links:refresh adds new ones).\n", show(name), local, show(plan.Link.RemoteSchema))
		case plan.Unreadable != "":
			return fmt.Errorf("the remote's tables could not be read: %s", plan.Unreadable)
		case len(plan.Importable) == 0:
			fmt.Fprintf(cio.out, "Link %s in %s already reads every table of %s.\n", show(name), local, show(plan.Link.RemoteSchema))
		default:
			fmt.Fprintf(cio.out, "Tables of %s that link %s may import (--tables a,b):\n", show(plan.Link.RemoteSchema), show(name))
			for _, t := range plan.Importable {
				fmt.Fprintln(cio.out, "  "+show(t))
			}
		}
		return nil
	}
	p := plan.Plan
	if p == nil {
		return fmt.Errorf("pglinks answered no plan for the import of %s", showAll(chosen))
	}
	if len(p.Blockers) > 0 {
		return fmt.Errorf("link %s cannot import these tables (nothing was imported):\n  %s", show(name), strings.Join(p.Blockers, "\n  "))
	}
	w := cio.errw
	if !f.bools["json"] {
		w = cio.out
	}
	fmt.Fprintf(w, "Importing %s into link %s in %s runs:\n", showAll(p.Tables), show(name), local)
	sqlLines(w, p.SQL)
	if err := confirmChange("links:import", name, f, cio, nil); err != nil {
		return err
	}
	var res struct{ Tables []string }
	raw, err = c.decode(ctx, http.MethodPost, path, map[string]any{"tables": chosen, "fingerprint": p.Fingerprint}, &res)
	if err != nil {
		return err
	}
	if f.bools["json"] {
		return writeRaw(cio, raw)
	}
	fmt.Fprintf(cio.out, "Importing into link %s in %s... done, %d foreign tables: %s\n", show(name), local, len(res.Tables), showAll(res.Tables))
	return nil
}
