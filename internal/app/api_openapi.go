package app

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDoc describes /api/v1. It is written by hand; the API's tests
// validate it and every answer they get against it, so it stays true.
//
//go:embed openapi.json
var openAPIDoc []byte

// apiOpenAPI serves the document. It holds no secret and describes no
// data, so it needs no token.
func (a *App) apiOpenAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/json; charset=utf-8", openAPIDoc)
}
