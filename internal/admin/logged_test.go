package admin

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A change through the socket shows in the server's log with what was asked
// and the answer; a question does not.
func TestLoggedLogsChangesOnly(t *testing.T) {
	_, store, _, _ := startServer(t)
	var out bytes.Buffer
	h := Logged(NewHandler(store), slog.New(slog.NewTextHandler(&out, nil)))

	body := `{"list":"internal","action":"add","numbers":["+12025550166"],"reason":"asked"}`
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", pathDNC, strings.NewReader(body)))
	if w.Code != http.StatusOK {
		t.Fatalf("dnc add: %d %s", w.Code, w.Body)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", pathImport, strings.NewReader(`{"files": ["ftc.txt"]}`)))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", pathLists, nil))

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 log lines, got:\n%s", out.String())
	}
	for _, want := range []string{"level=INFO", "path=" + pathDNC, "status=200", "+12025550166", `answer="[{`} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("dnc line lacks %s: %s", want, lines[0])
		}
	}
	for _, want := range []string{"level=WARN", "path=" + pathImport, "status=400", "not an absolute path"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("failed import line lacks %s: %s", want, lines[1])
		}
	}
}
