package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// browserRequireEnv makes a missing browser a failure (CI sets it).
const browserRequireEnv = "TASKMASTER_REQUIRE_BROWSER"

// chromium finds the headless browser, or skips (loudly) or fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	msg := "no chromium in PATH (make deps installs it)"
	if os.Getenv(browserRequireEnv) == "1" {
		t.Fatalf("%s (%s=1: the browser is required)", msg, browserRequireEnv)
	}
	dockerShout("SKIPPED %s: %s\n*** The browser tests did not run; set %s=1 to make this a failure.",
		t.Name(), msg, browserRequireEnv)
	t.Skipf("%s; set %s=1 to make this a failure", msg, browserRequireEnv)
	return ""
}

// browse opens the dashboard of d in a headless Chromium.
func browse(t *testing.T, d *daemon) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // root, in a test
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	// The first action starts the browser: no timeout on it, which would
	// end the browser with it (chromedp.Run's rule).
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("http://"+d.http+"/")))
	return ctx
}

// do runs browser actions within timeout.
func do(t *testing.T, ctx context.Context, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, actions...))
}

// until waits for a JavaScript expression to be true, checked every 20 ms.
func until(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(20*time.Millisecond))
}

// stateIs waits until an instance's row shows state.
func stateIs(instance, state string) chromedp.Action[chromedp.Void] {
	return until(fmt.Sprintf(`document.querySelector('tr[data-instance="%s"] td.state')?.textContent === %q`, instance, state))
}

func click(selector string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(selector))
}

// The dashboard, in a real browser: it lists the example jobs; Stop turns
// a job's row STOPPED within 2 s; a job started with taskmasterctl shows
// RUNNING without a reload; a job's output appears in the output pane.
func TestDashboardInABrowser(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asSubreaper})
	examples, err := filepath.Glob("../examples/jobs/*.tm.json")
	require.NoError(t, err)
	require.NotEmpty(t, examples)
	for _, path := range examples {
		body, err := os.ReadFile(path)
		require.NoError(t, err)
		d.writeJob(strings.TrimSuffix(filepath.Base(path), ".tm.json"), string(body))
	}
	d.awaitStates("api", 20*time.Second, "RUNNING", "RUNNING")
	ctx := browse(t, d)

	// Every example job has its row; running ones say so.
	do(t, ctx, 20*time.Second, stateIs("clock:0", "RUNNING"), stateIs("api:1", "RUNNING"))
	jobsShown, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('tr.job')].map(r => r.dataset.job)`))
	require.NoError(t, err)
	require.Equal(t, []string{"api", "clock", "db", "migrate", "report"}, jobsShown)

	// Stop, clicked: the row turns STOPPED within 2 s.
	do(t, ctx, 5*time.Second, click(`button[data-action="stop"][data-target="clock"]`))
	do(t, ctx, 2*time.Second, stateIs("clock:0", "STOPPED"))
	require.Equal(t, []string{"STOPPED"}, d.states("clock"))

	// Started from the command line: the open page follows.
	d.ctlOK("start", "clock")
	do(t, ctx, 5*time.Second, stateIs("clock:0", "RUNNING"))

	// Output: the pane shows what the instance wrote, and what it writes
	// next (a restart makes api:0 write its line again).
	do(t, ctx, 5*time.Second,
		click(`tr[data-instance="api:0"] td.name`),
		until(`document.querySelector('#output').textContent.includes('api:0 serving')`))
	do(t, ctx, 5*time.Second, click(`button[data-action="restart"][data-target="api:0"]`))
	do(t, ctx, 10*time.Second, until(`document.querySelector('#output').textContent.split('api:0 serving').length - 1 === 2`))
}

// A taskmasterd with a token: the page asks for it, a wrong one is
// refused and asked for again, the right one shows the jobs; and when the
// link drops (taskmasterd restarts), the page says so, reconnects and
// shows the jobs of the new taskmasterd.
func TestDashboardTokenAndReconnect(t *testing.T) {
	chromium(t)
	httpAddr := freeAddr(t)
	opts := daemonOpts{mode: asSubreaper, env: []string{"TASKMASTER_TOKEN=s3cret"},
		args: []string{"-http", httpAddr}, jobs: map[string]string{"web": sleeper()}}
	d := startListening(t, opts)
	d.http = httpAddr // the last -http counts
	ctx := browse(t, d)
	do(t, ctx, 10*time.Second, until(`!document.querySelector('#login').hidden`))
	do(t, ctx, 5*time.Second,
		chromedp.SendKeys(chromedp.CSS("#token"), "guess"),
		click(`#login button[type="submit"]`),
		until(`document.querySelector('#banner').textContent.includes('bad token')`),
		until(`!document.querySelector('#login').hidden`))
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.querySelector('#token').value = '', true)`))
	require.NoError(t, err)
	do(t, ctx, 5*time.Second,
		chromedp.SendKeys(chromedp.CSS("#token"), "s3cret"),
		click(`#login button[type="submit"]`),
		stateIs("web:0", "RUNNING"))

	// taskmasterd goes and comes back on the same address.
	d.stopGracefully()
	do(t, ctx, 10*time.Second, until(`document.querySelector('#banner').textContent.includes('reconnecting')`))
	opts.jobs = map[string]string{"api": sleeper()}
	startListening(t, opts)
	do(t, ctx, 60*time.Second, stateIs("api:0", "RUNNING"),
		until(`document.querySelector('#banner').textContent.includes('Reconnected')`),
		until(`!document.querySelector('tr[data-instance="web:0"]')`))
}
