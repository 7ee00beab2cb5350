package crm

import (
	"bytes"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// No exported declaration of a public package asks the host for a type it
// cannot build: go doc shows no type of an internal package in an exported
// function, method, field or constant.
func TestNoInternalTypeInThePublicAPI(t *testing.T) {
	internal := regexp.MustCompile(`\b(store|dialect|migrate|opendb|module|dbtest)\.[A-Z]`)
	root := ".."
	var dirs []string
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "internal" || d.Name() == "examples" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	}))
	checked := 0
	for _, dir := range dirs {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments)
		require.NoError(t, err)
		for name, pkg := range pkgs {
			p := doc.New(pkg, dir, 0)
			show := func(what string, node any) {
				var b bytes.Buffer
				require.NoError(t, printer.Fprint(&b, fset, node))
				require.False(t, internal.MatchString(b.String()), "%s.%s shows an internal type: %s", name, what, b.String())
				checked++
			}
			for _, f := range p.Funcs {
				show(f.Name, f.Decl)
			}
			for _, ty := range p.Types {
				show(ty.Name, ty.Decl)
				for _, f := range append(ty.Funcs, ty.Methods...) {
					show(ty.Name+"."+f.Name, f.Decl)
				}
			}
			for _, v := range append(p.Vars, p.Consts...) {
				for _, s := range v.Decl.Specs {
					if vs, ok := s.(*ast.ValueSpec); ok && vs.Type != nil {
						show(vs.Names[0].Name, vs.Type)
					}
				}
			}
		}
	}
	require.Greater(t, checked, 300)
}
