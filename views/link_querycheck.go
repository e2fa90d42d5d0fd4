package views

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
)

// ChecksOnLinkPage is how many saved checks the link page lists.
const ChecksOnLinkPage = 10

// QueryCheckPage is the form to check a statement over a link, with the
// link's saved checks.
type QueryCheckPage struct {
	Page
	Local  *fleet.Database
	Link   *links.Link
	SQL    string
	Checks []links.CheckSummary
	Errors FormErrors
}

// SavedCheckPage shows one check.
type SavedCheckPage struct {
	Page
	Local *fleet.Database
	Check *links.QueryCheck
	// Confirm asks to run EXPLAIN ANALYZE of the statement.
	Confirm bool
	Errors  FormErrors
}

// rows writes an estimate or a count of rows: "1,000,000", "about 3".
func rows(f float64) string {
	if f < 0 {
		return "unknown"
	}
	n := int64(math.Round(f))
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func ms(f float64) string {
	if f >= 1000 {
		return fmt.Sprintf("%.2f s", f/1000)
	}
	return fmt.Sprintf("%.2f ms", f)
}

// pushedText says in words what a scan's remote query does besides
// reading.
func pushedText(p []string) string {
	if len(p) == 0 {
		return "nothing: it reads every row of the table and column it needs"
	}
	return strings.Join(p, ", ")
}

// fetchedRatio says how many rows come over for each one the scan
// returns, when that is worth saying.
func fetchedRatio(fetched, returned float64) string {
	if fetched < 0 || returned <= 0 || fetched < 2*returned {
		return ""
	}
	return fmt.Sprintf("(%.0f× the rows it returns)", fetched/math.Max(returned, 1))
}

func reasonLabel(code string) string {
	switch code {
	case links.ReasonExtension:
		return "extension not listed"
	case links.ReasonUserFunction:
		return "not built in"
	case links.ReasonMutable:
		return "not immutable"
	case links.ReasonType:
		return "type not built in"
	case links.ReasonCollation:
		return "collation"
	case links.ReasonSubquery:
		return "subquery"
	case links.ReasonSystemColumn:
		return "system column"
	case links.ReasonEstimate:
		return "planner's estimate"
	case links.ReasonLocalConds:
		return "conditions kept local"
	case links.ReasonOtherLink:
		return "across links"
	}
	return "other"
}

// indent is a plan line's indentation.
func indent(depth int) string {
	return "display: inline-block; padding-left: " + strconv.Itoa(min(depth, 12)) + "rem"
}

// optionValue is the value a link option has, with "(default)" when the
// server does not set it.
func optionValue(p *links.Performance, key string) string {
	v, set := p.Value(key)
	if v == "" {
		v = "none"
	}
	if !set {
		v += " (default)"
	}
	return v
}

// OptionPage previews a change of a link option.
type OptionPage struct {
	Page
	Local  *fleet.Database
	Plan   *links.OptionPlan
	Errors FormErrors
}

// AnalyzePage confirms analyzing a link's foreign tables.
type AnalyzePage struct {
	Page
	Local *fleet.Database
	Link  *links.Link
	Perf  *links.Performance
}

// OptionTarget names what an option change is on.
func OptionTarget(ch links.OptionChange) string {
	if ch.Table == "" {
		return "the server"
	}
	return "foreign table " + ch.Table
}

func joinComma(ls []string) string { return strings.Join(ls, ", ") }

func hasPushed(ps []string, what string) bool {
	for _, p := range ps {
		if p == what {
			return true
		}
	}
	return false
}

// analyzedText says how many of a link's foreign tables the planner has
// statistics for, and when they were last taken.
func analyzedText(p *links.Performance) string {
	if p.TableCount == 0 {
		return "The link has no foreign tables."
	}
	s := fmt.Sprintf("%d of %s analyzed", p.TableCount-p.NeverAnalyzed, plural(p.TableCount, "foreign table", "foreign tables"))
	if !p.LastAnalyzed.IsZero() {
		s += "; the latest ANALYZE " + When(p.LastAnalyzed)
	}
	return s + "."
}

func lastAnalyzed(s links.TableStats) string {
	switch {
	case !s.LastAnalyzed.IsZero():
		return When(s.LastAnalyzed)
	case s.Rows >= 0:
		return "before the statistics were last reset"
	}
	return "never"
}

// optionsText writes a table's own options as key=value, sorted.
func optionsText(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return strings.Join(keys, ", ")
}
