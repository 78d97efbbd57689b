// Package strictyaml decodes a YAML mapping into a registered type's own fields, refusing any key the type does not
// declare. Fault kinds and strategies own their parameters (their YAML fields), and a registry decodes a scenario's
// entry into a fresh value of the type: a parameter in the wrong place (a latency on a pause) or misspelt is caught
// when the scenario loads, naming the keys the type takes, not silently ignored. yaml.v3 is strict about unknown
// fields only through a Decoder reading a whole document; an entry inside a scenario is a node, hence this package.
package strictyaml

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decode decodes params (a mapping) into v, a pointer to a struct, after refusing every key of params that v's
// type does not declare. what names the thing decoded in the error ("pause", "lua-watchdog").
func Decode(what string, params *yaml.Node, v any) error {
	if params.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: want a mapping of its parameters", what)
	}
	if err := RefuseUnknown(what, params, Keys(reflect.TypeOf(v).Elem())); err != nil {
		return err
	}
	return params.Decode(v)
}

// RefuseUnknown returns an error naming every key of params that is not in takes, and those that are.
func RefuseUnknown(what string, params *yaml.Node, takes map[string]bool) error {
	var bad []string
	for i := 0; i+1 < len(params.Content); i += 2 {
		if key := params.Content[i].Value; !takes[key] {
			bad = append(bad, key)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	var known []string
	for key := range takes {
		known = append(known, key)
	}
	sort.Strings(known)
	own := "none"
	if len(known) > 0 {
		own = strings.Join(known, ", ")
	}
	return fmt.Errorf("%s does not take %s (its parameters: %s)", what, strings.Join(bad, ", "), own)
}

// Keys returns the keys yaml.v3 reads into struct type t: each field's tag name or lowercased name, the fields of
// structs (or pointers to structs) marked inline included, fields tagged "-" and unexported ones left out, as
// yaml.v3 does.
func Keys(t reflect.Type) map[string]bool {
	keys := map[string]bool{}
	addKeys(t, keys)
	return keys
}

func addKeys(t reflect.Type, keys map[string]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.PkgPath != "" && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		inner := f.Type
		for inner.Kind() == reflect.Pointer {
			inner = inner.Elem()
		}
		if strings.Contains(","+opts+",", ",inline,") && inner.Kind() == reflect.Struct {
			addKeys(inner, keys)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		keys[name] = true
	}
}
