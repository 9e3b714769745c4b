package jobfile

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// docsPath is the job file reference, whose examples must stay true.
var docsPath = filepath.Join("..", "..", "docs", "jobs.md")

// docsJobPath is where the examples in the docs pretend to live.
const docsJobPath = "/etc/taskmaster/jobs/web.tm.json"

// fence is one fenced code block of a Markdown file.
type fence struct {
	info    string // the word after ```
	body    string
	line    int    // line of the opening fence, 1-based
	before  string // the last non-blank line before the block
	follows bool   // only blank lines separate it from the previous block
}

// fences returns the fenced code blocks of a Markdown text.
func fences(text string) []fence {
	var out []fence
	lines := strings.Split(text, "\n")
	before, lastClose := "", -10
	for i := 0; i < len(lines); i++ {
		open, ok := strings.CutPrefix(lines[i], "```")
		if !ok {
			if strings.TrimSpace(lines[i]) != "" {
				before = lines[i]
			}
			continue
		}
		f := fence{info: strings.TrimSpace(open), line: i + 1, before: before}
		f.follows = lastClose >= 0 && strings.TrimSpace(strings.Join(lines[lastClose+1:i], "")) == ""
		var body []string
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			body = append(body, lines[i])
		}
		f.body = strings.Join(body, "\n")
		out = append(out, f)
		before, lastClose = "", i
	}
	return out
}

// TestDocsExamples parses every ```json block of docs/jobs.md that holds an
// object. A block after a line with <!-- invalid --> must fail, and when a
// ```text block follows it directly, that block is the exact error.
func TestDocsExamples(t *testing.T) {
	data, err := os.ReadFile(docsPath)
	require.NoError(t, err)
	blocks := fences(string(data))
	valid, invalid := 0, 0
	for i, f := range blocks {
		if f.info != "json" || !strings.HasPrefix(strings.TrimSpace(f.body), "{") {
			continue
		}
		_, err := Parse(docsJobPath, []byte(f.body))
		if !strings.Contains(f.before, "<!-- invalid -->") {
			require.NoError(t, err, "docs/jobs.md:%d", f.line)
			valid++
			continue
		}
		require.Error(t, err, "docs/jobs.md:%d should be invalid", f.line)
		invalid++
		if i+1 < len(blocks) && blocks[i+1].info == "text" && blocks[i+1].follows {
			require.Equal(t, strings.TrimSpace(blocks[i+1].body), err.Error(), "docs/jobs.md:%d", blocks[i+1].line)
		}
	}
	require.GreaterOrEqual(t, valid, 10, "valid examples in docs/jobs.md")
	require.GreaterOrEqual(t, invalid, 3, "invalid examples in docs/jobs.md")
}

// TestDocsKeys checks that docs/jobs.md has a section for every key and
// lists every alias, and keeps the Supervision section.
func TestDocsKeys(t *testing.T) {
	data, err := os.ReadFile(docsPath)
	require.NoError(t, err)
	var headings, rows []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "### ") {
			headings = append(headings, line)
		}
		if strings.HasPrefix(line, "| `") {
			rows = append(rows, line)
		}
	}
	hasLine := func(lines []string, part string) bool {
		return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, part) })
	}
	for _, k := range keys() {
		if k.aliasOf == "" {
			require.True(t, hasLine(headings, "`"+k.name+"`"), "no ### section for %s", k.name)
		} else {
			require.True(t, hasLine(rows, "| `"+k.name+"` | `"+k.aliasOf+"`"), "no alias row for %s", k.name)
		}
	}
	require.Contains(t, string(data), "\n## Supervision\n")
}

func TestFences(t *testing.T) {
	text := "a\n<!-- invalid -->\n```json\n{}\n```\n\n```text\nerr\n```\nb\n```go\nx\n```\n"
	got := fences(text)
	require.Equal(t, []fence{
		{info: "json", body: "{}", line: 3, before: "<!-- invalid -->"},
		{info: "text", body: "err", line: 7, follows: true},
		{info: "go", body: "x", line: 11, before: "b"},
	}, got)
}
