package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Each endpoint answers a bad request with its status and the reason as
// {"error": "..."}, which the client hands back verbatim.
func TestRoutesAnswerErrorsWithTheirStatus(t *testing.T) {
	_, store, _, _ := startServer(t)
	h := NewHandler(store)
	cases := []struct {
		method, target, body string
		status               int
		error                string // a prefix of the error text; "" for no error answer
	}{
		{"GET", pathHealth, "", http.StatusNoContent, ""},
		{"DELETE", pathLists, "", http.StatusMethodNotAllowed, ""},
		{"GET", pathLookup, "", http.StatusBadRequest, `parameter "number" is missing`},
		{"GET", pathLookup + "?number=12", "", http.StatusOK, ""},
		{"GET", pathListed + "?list=ftc", "", http.StatusBadRequest, `parameter "number" is missing`},
		{"GET", pathListDate, "", http.StatusBadRequest, `parameter "list" is missing`},
		{"GET", pathVersion + "?id=x", "", http.StatusBadRequest, `parameter "id": strconv.ParseUint`},
		{"GET", pathVersion + "?id=999", "", http.StatusNotFound, ""},
		{"POST", pathDNC, "{", http.StatusBadRequest, "dnc request: "},
		{"POST", pathDNC, "{}", http.StatusUnprocessableEntity, ""},
		{"GET", pathAttempts + "?name=n&from=x&to=x", "", http.StatusBadRequest, "parameter "},
		{"GET", pathAttempts + "?from=x", "", http.StatusBadRequest, `parameter "name" is missing`},
		{"POST", pathAttempts, "{", http.StatusBadRequest, "attempt: "},
		{"POST", pathAttempts, "{}", http.StatusUnprocessableEntity, ""},
		{"POST", pathImport, "{", http.StatusBadRequest, "import request: "},
		{"POST", pathImport, `{"files": ["ftc.txt"]}`, http.StatusBadRequest, `import: "ftc.txt" is not an absolute path`},
		{"POST", pathDataSetImport, "{", http.StatusBadRequest, "import request: "},
		{"POST", pathDataSetImport, `{"files": ["blocks.csv"]}`, http.StatusBadRequest, `import: "blocks.csv" is not an absolute path`},
		{"POST", pathDataSetImport, `{"kind": "nope", "files": ["/nonexistent/blocks.csv"]}`, http.StatusUnprocessableEntity, ""},
		{"GET", pathLineType, "", http.StatusBadRequest, `parameter "number" is missing`},
		{"GET", pathNumberData, "", http.StatusBadRequest, `parameter "number" is missing`},
		{"GET", pathConsent, "", http.StatusBadRequest, `parameter "number" is missing`},
		{"GET", pathConsent + "?number=%2B12125550143", "", http.StatusOK, ""},
		{"POST", pathConsent, "{", http.StatusBadRequest, "consent request: "},
		{"POST", pathConsent, "{}", http.StatusUnprocessableEntity, ""},
		{"GET", pathRND, "", http.StatusBadRequest, `parameter "number" is missing`},
		{"GET", pathRND + "?number=%2B12125550143", "", http.StatusOK, ""},
		{"GET", pathExemption, "", http.StatusBadRequest, `parameter "number" is missing`},
		{"GET", pathExemption + "?number=%2B12125550143", "", http.StatusOK, ""},
	}
	for _, tc := range cases {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body)))
		var answer errorAnswer
		json.NewDecoder(w.Body).Decode(&answer)
		if w.Code != tc.status || !strings.HasPrefix(answer.Error, tc.error) || (w.Code >= 400 && w.Code != http.StatusMethodNotAllowed) == (answer.Error == "") {
			t.Errorf("%s %s %s: %d %q; want %d %q", tc.method, tc.target, tc.body, w.Code, answer.Error, tc.status, tc.error)
		}
	}
}
