package campaigns

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	texttemplate "text/template"
	"text/template/parse"

	"github.com/inbucket/html2text"
	"github.com/vanng822/go-premailer/premailer"
)

// Data is what a template sees: {{.Contact.FirstName}},
// {{.Contact.Attributes.plan}}, {{.Campaign.Name}}, {{.UnsubscribeURL}}.
// The function default gives a fallback for an empty value:
// {{.Contact.FirstName | default "there"}}.
type Data struct {
	Contact  ContactData
	Campaign CampaignData
	// UnsubscribeURL is the recipient's one-click unsubscribe link.
	UnsubscribeURL string
}

// ContactData is the recipient as a template sees them. Attributes holds
// every custom field of contacts the tenant defines ("" when the contact
// has no value), so a template names only fields that exist.
type ContactData struct {
	FirstName  string
	LastName   string
	Email      string
	Phone      string
	Attributes map[string]any
}

// CampaignData is the campaign as a template sees it.
type CampaignData struct {
	Name string
}

// funcs are the functions templates may call.
var funcs = map[string]any{
	// default returns def when v is empty (nil, "", 0, false).
	"default": func(def, v any) any {
		if v == nil {
			return def
		}
		if rv := reflect.ValueOf(v); rv.IsZero() {
			return def
		}
		return v
	},
}

// compiled is one version of a template, ready to render: the subject
// and text parts as text/template, the HTML with its CSS inlined (done
// once per version, around the template's actions) as html/template.
type compiled struct {
	subject *texttemplate.Template
	html    *htmltemplate.Template
	text    *texttemplate.Template
}

// Rendered is one message's content.
type Rendered struct {
	Subject string `json:"subject"`
	HTML    string `json:"html"`
	Text    string `json:"text"`
}

// action matches a template action; placeholder the word an action
// stands in for while the CSS is inlined and the text part is made
// (letters and digits survive both; html2text may upper-case them).
var (
	action      = regexp.MustCompile(`\{\{.*?\}\}`)
	placeholder = regexp.MustCompile(`(?i)xcrmkitaction(\d+)x`)
)

// compile parses and prepares a template version. Problems are listed by
// part ("subject", "html", "text") in v.
func compile(subject, html, text string, problem func(field, format string, args ...any)) *compiled {
	c := &compiled{}
	var err error
	if c.subject, err = texttemplate.New("subject").Funcs(funcs).Parse(subject); err != nil {
		problem("subject", "%s", templateError(err))
	}
	inlined, fromHTML, err := inline(html)
	if err == nil {
		c.html, err = htmltemplate.New("html").Funcs(funcs).Parse(inlined)
	}
	if err != nil {
		problem("html", "%s", templateError(err))
		if text == "" {
			return c // the text part would be made from the HTML
		}
	}
	if text == "" {
		text = fromHTML
	}
	if c.text, err = texttemplate.New("text").Funcs(funcs).Parse(text); err != nil {
		problem("text", "%s", templateError(err))
	}
	return c
}

// templateError is a parse or execution error without the path of the
// template package's messages.
func templateError(err error) string {
	return strings.TrimPrefix(strings.TrimPrefix(err.Error(), "template: "), "html/template:")
}

// inline moves the HTML's <style> rules into style attributes (mail
// clients drop <style>), and makes the text part from the result. The
// template's actions are kept out of the way: each is replaced by a
// placeholder word before, and put back after.
func inline(html string) (inlined, text string, err error) {
	var actions []string
	masked := action.ReplaceAllStringFunc(html, func(a string) string {
		actions = append(actions, a)
		return "xcrmkitaction" + strconv.Itoa(len(actions)-1) + "x"
	})
	p, err := premailer.NewPremailerFromString(masked, premailer.NewOptions())
	if err != nil {
		return "", "", fmt.Errorf("the HTML does not parse: %w", err)
	}
	out, err := p.Transform()
	if err != nil {
		return "", "", fmt.Errorf("inline the CSS: %w", err)
	}
	txt, err := html2text.FromString(out, html2text.Options{})
	if err != nil {
		return "", "", fmt.Errorf("make the text part: %w", err)
	}
	restore := func(s string) (string, int) {
		n := 0
		return placeholder.ReplaceAllStringFunc(s, func(p string) string {
			i, _ := strconv.Atoi(placeholder.FindStringSubmatch(p)[1])
			if i >= len(actions) {
				return p
			}
			n++
			return actions[i]
		}), n
	}
	inlined, n := restore(out)
	if n != len(actions) {
		return "", "", fmt.Errorf("a template action is where the CSS inliner drops it (in <head> or <style>): keep actions in <body>")
	}
	text, _ = restore(txt)
	return inlined, text, nil
}

// render executes the template version for one recipient.
func (c *compiled) render(d *Data) (Rendered, error) {
	var out Rendered
	var b bytes.Buffer
	if err := c.subject.Execute(&b, d); err != nil {
		return out, fmt.Errorf("subject: %s", templateError(err))
	}
	out.Subject = strings.Join(strings.Fields(b.String()), " ") // one header line
	b.Reset()
	if err := c.html.Execute(&b, d); err != nil {
		return out, fmt.Errorf("html: %s", templateError(err))
	}
	out.HTML = b.String()
	b.Reset()
	if err := c.text.Execute(&b, d); err != nil {
		return out, fmt.Errorf("text: %s", templateError(err))
	}
	out.Text = b.String()
	return out, nil
}

// attributesNamed returns the keys of .Contact.Attributes.<key> the
// parse trees name.
func (c *compiled) attributesNamed() []string {
	seen := map[string]bool{}
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, x := range n.Nodes {
				walk(x)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, cmd := range n.Cmds {
				walk(cmd)
			}
		case *parse.CommandNode:
			for _, arg := range n.Args {
				walk(arg)
			}
		case *parse.FieldNode:
			if len(n.Ident) >= 3 && n.Ident[0] == "Contact" && n.Ident[1] == "Attributes" {
				seen[n.Ident[2]] = true
			}
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		}
	}
	for _, t := range []*parse.Tree{treeOf(c.subject), treeOfHTML(c.html), treeOf(c.text)} {
		if t != nil {
			walk(t.Root)
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	return out
}

func treeOf(t *texttemplate.Template) *parse.Tree {
	if t == nil {
		return nil
	}
	return t.Tree
}

func treeOfHTML(t *htmltemplate.Template) *parse.Tree {
	if t == nil {
		return nil
	}
	return t.Tree
}
