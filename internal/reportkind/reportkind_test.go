package reportkind

import (
	"strings"
	"testing"

	"tisheng/internal/auth"
)

// Every kind is complete and distinct: its name is a subscription's and a URL's, its file
// a download's path, and who may receive it is decided, never left open.
func TestKindsAreComplete(t *testing.T) {
	names, files := map[string]bool{}, map[string]bool{}
	for _, k := range All() {
		if k.Name == "" || k.Label == "" || k.Title == "" || k.File == "" || k.May == nil || k.Build == nil {
			t.Errorf("incomplete kind %+v", k)
		}
		if names[k.Name] || files[k.File] {
			t.Errorf("%s or %s twice", k.Name, k.File)
		}
		names[k.Name], files[k.File] = true, true
		if strings.ContainsAny(k.File, "/?#") {
			t.Errorf("%s: file %q is not one path segment", k.Name, k.File)
		}
		if k.May(auth.Scope{}) {
			t.Errorf("%s: the zero scope may receive it", k.Name)
		}
		if got, ok := Get(k.Name); !ok || got.File != k.File {
			t.Errorf("Get(%s)", k.Name)
		}
	}
	school := auth.Scope{User: "s", Role: auth.RoleSchool, School: "3601000001", District: "东湖区"}
	if k, _ := Get("annual"); k.May(school) {
		t.Error("a school may receive the 年报")
	}
	if _, ok := Get("weekly"); ok {
		t.Error("an unknown kind was found")
	}
}
