package feed

import (
	"fmt"
	"strings"

	xhtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// An Element is an HTML element seen by RewriteElements: its tag name and
// attributes, which the callback may change, and its enclosing element.
// It exists so that other packages (mailer, which styles the section HTML
// for email clients) can rewrite rendered HTML with a real HTML parser
// without importing one: golang.org/x/net/html is imported by feed only.
type Element struct {
	Tag    string // lower case: "p", "img"; the callback may rename it
	Attrs  []Attr
	Parent *Element // nil for an element at the top of the fragment
}

// Attr is one attribute of an Element.
type Attr struct{ Key, Val string }

// Get returns the value of attribute key (lower case) and whether it is set.
func (e *Element) Get(key string) (string, bool) {
	for _, a := range e.Attrs {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// Set sets attribute key (lower case) to val, adding it at the end when
// it is not there yet.
func (e *Element) Set(key, val string) {
	for i := range e.Attrs {
		if e.Attrs[i].Key == key {
			e.Attrs[i].Val = val
			return
		}
	}
	e.Attrs = append(e.Attrs, Attr{Key: key, Val: val})
}

// Del removes attribute key.
func (e *Element) Del(key string) {
	out := e.Attrs[:0]
	for _, a := range e.Attrs {
		if a.Key != key {
			out = append(out, a)
		}
	}
	e.Attrs = out
}

// maxRewriteDepth bounds the nesting RewriteElements walks (the renderer's
// output is already bounded; this keeps the recursion safe for any input).
const maxRewriteDepth = 512

// RewriteElements parses fragment as the content of an HTML <body>, calls
// fn for every element in document order (an element before its
// children, so fn sees its parent as already rewritten), and returns the
// fragment serialised again. Text, comments and entities are kept;
// the serialisation is the parser's (attribute values in double quotes,
// void elements as "<br/>").
func RewriteElements(fragment string, fn func(*Element)) (string, error) {
	body := &xhtml.Node{Type: xhtml.ElementNode, Data: "body", DataAtom: atom.Body}
	nodes, err := xhtml.ParseFragment(strings.NewReader(fragment), body)
	if err != nil {
		return "", fmt.Errorf("feed: parsing HTML: %w", err)
	}
	var walk func(n *xhtml.Node, parent *Element, depth int)
	walk = func(n *xhtml.Node, parent *Element, depth int) {
		if depth > maxRewriteDepth {
			return
		}
		el := parent
		if n.Type == xhtml.ElementNode {
			el = &Element{Tag: n.Data, Parent: parent, Attrs: make([]Attr, 0, len(n.Attr))}
			for _, a := range n.Attr {
				if a.Namespace == "" {
					el.Attrs = append(el.Attrs, Attr{Key: a.Key, Val: a.Val})
				}
			}
			fn(el)
			if el.Tag != n.Data {
				n.Data, n.DataAtom = el.Tag, atom.Lookup([]byte(el.Tag))
			}
			n.Attr = n.Attr[:0]
			for _, a := range el.Attrs {
				n.Attr = append(n.Attr, xhtml.Attribute{Key: a.Key, Val: a.Val})
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, el, depth+1)
		}
	}
	var b strings.Builder
	b.Grow(len(fragment) + len(fragment)/2)
	for _, n := range nodes {
		walk(n, nil, 0)
		if err := xhtml.Render(&b, n); err != nil {
			return "", fmt.Errorf("feed: writing HTML: %w", err)
		}
	}
	return b.String(), nil
}
