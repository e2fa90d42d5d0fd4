package pgtest

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// fastIterations is the PBKDF2 iteration count of the SCRAM secrets a
// ForTests cluster stores.
const fastIterations = 1

// scramSecret is the scram-sha-256 secret PostgreSQL stores for password
// (RFC 5802, 7677; PostgreSQL's "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"),
// made with the given PBKDF2 iteration count. PostgreSQL keeps a password
// given in this form as it is, and the client derives its key with the
// count the server sends, so the exchange is the full scram-sha-256 one.
func scramSecret(password string, iterations int) string {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		panic(err)
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		panic(err)
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	server := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored[:]), b64(server))
}

// passwordLiteral is what pgtest puts in PASSWORD '...' for password: the
// password itself, which PostgreSQL hashes with its own iteration count,
// or on a ForTests cluster a secret of fastIterations.
func (c *Cluster) passwordLiteral(password string) string {
	if c.fastAuth {
		return scramSecret(password, fastIterations)
	}
	return password
}
