// Package yamlx decodes the YAML files admins write (config, policy) strictly,
// so that every error names FILE:LINE:COLUMN.
package yamlx

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Error is a decoding or validation error at a place in a YAML file.
type Error struct {
	File         string
	Line, Column int
	Msg          string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// At makes an error positioned at node, for types that validate their own
// values in UnmarshalYAML(ast.Node). Decode fills in the file name.
func At(node ast.Node, format string, args ...any) error {
	e := &Error{Msg: fmt.Sprintf(format, args...)}
	if node != nil && node.GetToken() != nil {
		e.Line, e.Column = node.GetToken().Position.Line, node.GetToken().Position.Column
	}
	return e
}

// Decode decodes data into v, refusing unknown keys. Any error is an *Error.
func Decode(file string, data []byte, v any) error {
	if tag := firstTag(data); tag != nil {
		e := At(tag, "YAML tags such as %s are not used in this file: write the value alone", tag.Start.Value).(*Error)
		e.File = file
		return e
	}
	err := yaml.UnmarshalWithOptions(data, v, yaml.DisallowUnknownField())
	if err == nil {
		return nil
	}
	var pe *Error
	if errors.As(err, &pe) {
		pe.File = file
		return pe
	}
	var ye yaml.Error
	if errors.As(err, &ye) {
		pos := ye.GetToken().Position
		return &Error{File: file, Line: pos.Line, Column: pos.Column, Msg: plainMessage(ye)}
	}
	return &Error{File: file, Msg: err.Error()}
}

// firstTag finds the first YAML tag (!x, !!str) in data; nil when there is
// none or the file does not parse, which decoding then reports. The files
// need no tags, and the decoder cannot take one on a value of another kind
// than a list where a list goes (goccy/go-yaml 1.19 panics).
func firstTag(data []byte) *ast.TagNode {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil
	}
	var found tagFinder
	for _, doc := range f.Docs {
		if doc.Body != nil && found.tag == nil {
			ast.Walk(&found, doc.Body)
		}
	}
	return found.tag
}

type tagFinder struct{ tag *ast.TagNode }

func (f *tagFinder) Visit(n ast.Node) ast.Visitor {
	if f.tag != nil {
		return nil
	}
	if t, ok := n.(*ast.TagNode); ok {
		f.tag = t
		return nil
	}
	return f
}

// plainMessage says what the decoder found wrong in the file's own terms:
// `"yes please" is not true or false`, not the Go types it was decoding into.
func plainMessage(err yaml.Error) string {
	var te *yaml.TypeError
	var oe *yaml.OverflowError
	var ne *yaml.UnexpectedNodeTypeError
	switch {
	case errors.As(err, &te):
		found := fmt.Sprintf("%q", te.Token.Value)
		if k := te.SrcType.Kind(); k == reflect.Slice || k == reflect.Map {
			found = kindName[k]
		}
		return fmt.Sprintf("%s is not %s", found, wanted(te.DstType))
	case errors.As(err, &oe):
		return fmt.Sprintf("%s is out of range for %s", oe.SrcNum, wanted(oe.DstType))
	case errors.As(err, &ne):
		return fmt.Sprintf("want %s here, not %s", nodeName(ne.Expected), nodeName(ne.Actual))
	}
	return err.GetMessage()
}

var kindName = map[reflect.Kind]string{
	reflect.Bool: "true or false", reflect.String: "text",
	reflect.Slice: "a list", reflect.Array: "a list", reflect.Map: "a mapping (key: value)", reflect.Struct: "a mapping (key: value)",
	reflect.Float32: "a number", reflect.Float64: "a number",
}

func wanted(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if name, ok := kindName[t.Kind()]; ok {
		return name
	}
	if t.Kind() >= reflect.Int && t.Kind() <= reflect.Uintptr {
		return "a whole number"
	}
	return t.Kind().String()
}

func nodeName(t ast.NodeType) string {
	switch t {
	case ast.MappingType, ast.MappingValueType:
		return "a mapping (key: value)"
	case ast.SequenceType:
		return "a list"
	}
	return "a single value"
}

// AtPath makes an error positioned at the node a YAML path names in data
// ($.sip.carrier, $.dialers[1].name), for checks that run after decoding.
// When the file has no such node (a missing key), the error names the file only.
func AtPath(file string, data []byte, path, format string, args ...any) error {
	e := &Error{File: file, Msg: fmt.Sprintf(format, args...)}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return e
	}
	p, err := yaml.PathString(path)
	if err != nil {
		return e
	}
	if node, err := p.FilterFile(f); err == nil && node != nil && node.GetToken() != nil {
		e.Line, e.Column = node.GetToken().Position.Line, node.GetToken().Position.Column
	}
	return e
}

// String decodes a scalar node as a string.
func String(node ast.Node) (string, error) {
	var s string
	if err := yaml.NodeToValue(node, &s); err != nil {
		return "", At(node, "want a string")
	}
	return s, nil
}
