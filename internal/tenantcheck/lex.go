package tenantcheck

import (
	"fmt"
	"strings"
)

// kind is a token's kind.
type kind int

const (
	tIdent  kind = iota // a name or keyword; unquoted ones lower-cased
	tString             // a string literal: '…', E'…', $tag$…$tag$
	tNumber             // a numeric literal
	tParam              // a bound parameter: $1, ?
	tOp                 // an operator: =, <>, ::, ->>, …
	tPunct              // ( ) [ ] , . ;
)

type token struct {
	k      kind
	s      string // text (identifiers lower-cased unless quoted)
	quoted bool   // a "quoted" identifier
}

func (t token) is(word string) bool { return t.k == tIdent && !t.quoted && t.s == word }

func (t token) punct(p string) bool { return t.k == tPunct && t.s == p }

// lex splits PostgreSQL text into tokens, dropping comments and white
// space.
func lex(sql string) ([]token, error) {
	var out []token
	i := 0
	n := len(sql)
	for i < n {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < n && sql[i+1] == '-':
			for i < n && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < n && sql[i+1] == '*':
			depth := 0
			for i < n {
				if i+1 < n && sql[i] == '/' && sql[i+1] == '*' {
					depth++
					i += 2
				} else if i+1 < n && sql[i] == '*' && sql[i+1] == '/' {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
			if depth != 0 {
				return nil, fmt.Errorf("unterminated comment")
			}
		case c == '\'':
			j, err := quoted(sql, i, false)
			if err != nil {
				return nil, err
			}
			out = append(out, token{k: tString, s: sql[i:j]})
			i = j
		case (c == 'e' || c == 'E') && i+1 < n && sql[i+1] == '\'':
			j, err := quoted(sql, i+1, true)
			if err != nil {
				return nil, err
			}
			out = append(out, token{k: tString, s: sql[i:j]})
			i = j
		case c == '"':
			j := i + 1
			var b strings.Builder
			for {
				if j >= n {
					return nil, fmt.Errorf("unterminated quoted identifier")
				}
				if sql[j] == '"' {
					if j+1 < n && sql[j+1] == '"' {
						b.WriteByte('"')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(sql[j])
				j++
			}
			out = append(out, token{k: tIdent, s: b.String(), quoted: true})
			i = j + 1
		case c == '$' && i+1 < n && isDigit(sql[i+1]):
			j := i + 1
			for j < n && isDigit(sql[j]) {
				j++
			}
			out = append(out, token{k: tParam, s: sql[i:j]})
			i = j
		case c == '$':
			// A dollar-quoted string: $tag$ … $tag$.
			j := i + 1
			for j < n && (isIdentStart(sql[j]) || isDigit(sql[j])) {
				j++
			}
			if j >= n || sql[j] != '$' {
				return nil, fmt.Errorf("stray $ at %d", i)
			}
			tag := sql[i : j+1]
			end := strings.Index(sql[j+1:], tag)
			if end < 0 {
				return nil, fmt.Errorf("unterminated dollar-quoted string")
			}
			k := j + 1 + end + len(tag)
			out = append(out, token{k: tString, s: sql[i:k]})
			i = k
		case isDigit(c) || (c == '.' && i+1 < n && isDigit(sql[i+1])):
			j := i
			for j < n && (isDigit(sql[j]) || sql[j] == '.' || sql[j] == 'e' || sql[j] == 'E' ||
				((sql[j] == '+' || sql[j] == '-') && (sql[j-1] == 'e' || sql[j-1] == 'E'))) {
				j++
			}
			out = append(out, token{k: tNumber, s: sql[i:j]})
			i = j
		case isIdentStart(c):
			j := i
			for j < n && isIdentChar(sql[j]) {
				j++
			}
			out = append(out, token{k: tIdent, s: strings.ToLower(sql[i:j])})
			i = j
		case strings.IndexByte("()[],;.", c) >= 0:
			out = append(out, token{k: tPunct, s: string(c)})
			i++
		case c == '?' && !(i+1 < n && strings.IndexByte("|&-", sql[i+1]) >= 0):
			out = append(out, token{k: tParam, s: "?"})
			i++
		case strings.IndexByte("+-*/<>=~!@#%^&|`?:", c) >= 0:
			j := i
			for j < n && strings.IndexByte("+-*/<>=~!@#%^&|`?:", sql[j]) >= 0 {
				// A comment start ends the operator.
				if j > i && j+1 < n && ((sql[j] == '-' && sql[j+1] == '-') || (sql[j] == '/' && sql[j+1] == '*')) {
					break
				}
				j++
			}
			out = append(out, token{k: tOp, s: sql[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q at %d", c, i)
		}
	}
	return out, nil
}

// quoted returns the end of the string literal whose quote is at i;
// backslash escapes count where escapes is set (E'…').
func quoted(sql string, i int, escapes bool) (int, error) {
	j := i + 1
	for j < len(sql) {
		switch {
		case escapes && sql[j] == '\\':
			j += 2
		case sql[j] == '\'':
			if j+1 < len(sql) && sql[j+1] == '\'' {
				j += 2
				continue
			}
			return j + 1, nil
		default:
			j++
		}
	}
	return 0, fmt.Errorf("unterminated string literal")
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '$' }
