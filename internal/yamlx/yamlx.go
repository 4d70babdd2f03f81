// Package yamlx decodes the YAML files admins write (config, policy) strictly,
// so that every error names FILE:LINE:COLUMN.
package yamlx

import (
	"errors"
	"fmt"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
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
		return &Error{File: file, Line: pos.Line, Column: pos.Column, Msg: ye.GetMessage()}
	}
	return &Error{File: file, Msg: err.Error()}
}

// String decodes a scalar node as a string.
func String(node ast.Node) (string, error) {
	var s string
	if err := yaml.NodeToValue(node, &s); err != nil {
		return "", At(node, "want a string")
	}
	return s, nil
}
