package yamlx

import (
	"testing"

	"github.com/goccy/go-yaml/ast"
)

type color string

func (c *color) UnmarshalYAML(node ast.Node) error {
	s, err := String(node)
	if err != nil {
		return err
	}
	if s != "red" && s != "blue" {
		return At(node, "color %q is not red or blue", s)
	}
	*c = color(s)
	return nil
}

type doc struct {
	Size  int  `yaml:"size"`
	On    bool `yaml:"on"`
	Items []struct {
		Color color `yaml:"color"`
	} `yaml:"items"`
}

func TestDecodeErrorsNamePlace(t *testing.T) {
	cases := map[string]string{
		"size: 1\nbogus: 2\n":          "f.yaml:2:1: unknown field \"bogus\"",
		"size: big\n":                  "f.yaml:1:7: \"big\" is not a whole number",
		"size: [1]\n":                  "f.yaml:1:7: a list is not a whole number",
		"size: 99999999999999999999\n": "f.yaml:1:7: 99999999999999999999 is out of range for a whole number",
		"on: maybe\n":                  "f.yaml:1:5: \"maybe\" is not true or false",
		"items: red\n":                 "f.yaml:1:8: want a list here, not a single value",
		"items:\n  - color: red\n  - color: green\n": "f.yaml:3:12: color \"green\" is not red or blue",
		"size: [\n": "f.yaml:1:7: sequence end token ']' not found",
		// A tag on a list's value once made the decoder panic (a fuzzing find).
		"items: !foo\n":   "f.yaml:1:8: YAML tags such as !foo are not used in this file: write the value alone",
		"size: !!int 3\n": "f.yaml:1:7: YAML tags such as !!int are not used in this file: write the value alone",
	}
	for src, want := range cases {
		var d doc
		err := Decode("f.yaml", []byte(src), &d)
		if err == nil || err.Error() != want {
			t.Errorf("Decode(%q) = %v; want %s", src, err, want)
		}
	}
	var d doc
	if err := Decode("f.yaml", []byte("size: 3\nitems:\n  - color: blue\n"), &d); err != nil || d.Size != 3 || d.Items[0].Color != "blue" {
		t.Fatalf("good doc: %v %+v", err, d)
	}
}

func TestAtPathNamesThePlace(t *testing.T) {
	data := []byte("size: 3\nitems:\n  - color: red\n  - color: blue\n")
	for path, want := range map[string]string{
		"$.items[1].color": "f.yaml:4:12: wrong",
		"$.size":           "f.yaml:1:7: wrong",
		"$.missing":        "f.yaml: wrong",
	} {
		if err := AtPath("f.yaml", data, path, "wrong"); err.Error() != want {
			t.Errorf("AtPath(%s) = %v; want %s", path, err, want)
		}
	}
}
