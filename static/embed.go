// Package static holds the assets served under /static: the Tailwind build
// (css/app.css, made by `make css` from css/input.css and committed) and
// a small script for progressive enhancement (js/app.js), embedded
// into the binary so a deployment is a single file.
package static

import "embed"

// FS holds css/ and js/ (paths like "css/app.css"); e.StaticFS("/static", static.FS)
// serves it as /static/css/app.css.
//
//go:embed css js
var FS embed.FS
