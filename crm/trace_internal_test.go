package crm

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/internal/modules"
)

// untraced are the modules whose operations make no spans yet.
var untraced = map[string]bool{}

// Every public operation of a module's services makes its span, named
// after it: every exported method taking ctx first, on an exported type
// holding a store.Scope, calls Scope.Span or Scope.SpanID with
// "<module>.<Method>" (the main type, Service) or "<module>.<Type>.<Method>",
// and ends it with a deferred End. This reads the source of every module.
func TestEveryOperationHasASpan(t *testing.T) {
	checked := 0
	for _, m := range modules.All() {
		if untraced[m.Name] {
			continue
		}
		fset := token.NewFileSet()
		files, err := filepath.Glob(filepath.Join("..", m.Name, "*.go"))
		require.NoError(t, err)
		var parsed []*ast.File
		scoped := map[string]bool{} // types with a store.Scope field
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(fset, f, nil, 0)
			require.NoError(t, err)
			parsed = append(parsed, af)
			ast.Inspect(af, func(n ast.Node) bool {
				ts, ok := n.(*ast.TypeSpec)
				if !ok {
					return true
				}
				if st, ok := ts.Type.(*ast.StructType); ok {
					for _, fl := range st.Fields.List {
						if sel, ok := fl.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Scope" && exprName(sel.X) == "store" {
							scoped[ts.Name.Name] = true
						}
					}
				}
				return false
			})
		}
		for _, af := range parsed {
			for _, d := range af.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Recv == nil || !fd.Name.IsExported() {
					continue
				}
				recv := exprName(fd.Recv.List[0].Type)
				params := fd.Type.Params.List
				if !scoped[recv] || !ast.IsExported(recv) || len(params) == 0 || exprName(params[0].Type) != "context.Context" {
					continue
				}
				want := m.Name + "." + recv + "." + fd.Name.Name
				if recv == "Service" {
					want = m.Name + "." + fd.Name.Name
				}
				where := fset.Position(fd.Pos()).String()
				var started, ended bool
				ast.Inspect(fd.Body, func(n ast.Node) bool {
					switch n := n.(type) {
					case *ast.FuncLit:
						return false // a closure's span is not the method's
					case *ast.CallExpr:
						sel, ok := n.Fun.(*ast.SelectorExpr)
						if ok && (sel.Sel.Name == "Span" || sel.Sel.Name == "SpanID") && len(n.Args) >= 2 {
							if lit, ok := n.Args[1].(*ast.BasicLit); ok {
								name, _ := strconv.Unquote(lit.Value)
								require.Equal(t, want, name, "%s: the span's name", where)
								started = true
							}
						}
					case *ast.DeferStmt:
						if sel, ok := n.Call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "End" {
							ended = true
						}
					}
					return true
				})
				require.True(t, started && ended, "%s: %s makes no span (ctx, span := s.sc.Span(ctx, %q); defer span.End(&err))", where, fd.Name.Name, want)
				checked++
			}
		}
	}
	require.Greater(t, checked, 250)
}

// exprName is the text of a type or selector expression, without a pointer.
func exprName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.StarExpr:
		return exprName(e.X)
	case *ast.SelectorExpr:
		return exprName(e.X) + "." + e.Sel.Name
	}
	return ""
}
