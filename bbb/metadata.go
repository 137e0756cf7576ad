package bbb

import (
	"bytes"
	"encoding/xml"
	"io"
)

var metadataTag = []byte("<metadata")

// RewriteMetadata returns raw (a <meeting> or <recording> element, or a
// whole answer) with the text of <metadata> children replaced where fn
// says so. fn is called once per child element of every <metadata>
// element, with the child's name and its text (CDATA resolved, untrimmed);
// if it returns ok and a value different from the old one, the child's
// content is replaced by the new value, escaped. Children that contain
// elements are left alone and fn is not called for them.
//
// Everything else is kept byte for byte. If nothing changes, or raw is not
// well-formed XML, raw itself is returned; otherwise a new slice. fn must
// not be nil.
func RewriteMetadata(raw []byte, fn func(key, value string) (string, bool)) []byte {
	if !bytes.Contains(raw, metadataTag) {
		return raw
	}
	d := xml.NewDecoder(bytes.NewReader(raw))
	var (
		out    []byte // nil until the first change
		copied int    // raw[:copied] is already in out
		depth  int    // number of open elements
		meta   = -1   // depth of the open <metadata>, or -1
	)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return raw
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if meta >= 0 {
				// A child of <metadata>; rewriteChild reads it whole, so
				// depth never goes below a <metadata>.
				if out, copied, err = rewriteChild(d, raw, t, fn, out, copied); err != nil {
					return raw
				}
				continue // the child's end tag has been consumed
			}
			depth++
			if meta < 0 && t.Name.Local == "metadata" {
				meta = depth
			}
		case xml.EndElement:
			if depth == meta {
				meta = -1
			}
			depth--
		}
	}
	if out == nil {
		return raw
	}
	return append(out, raw[copied:]...)
}

// rewriteChild handles one child of <metadata> whose start tag t was just
// read: it reads the child to its end and, if fn changes its value, copies
// raw up to the child's content into out followed by the new content.
func rewriteChild(d *xml.Decoder, raw []byte, t xml.StartElement, fn func(key, value string) (string, bool), out []byte, copied int) ([]byte, int, error) {
	contentStart := int(d.InputOffset())
	var (
		text    []byte
		complex bool
		depth   int
	)
	for {
		before := int(d.InputOffset())
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return out, copied, err
		}
		switch c := tok.(type) {
		case xml.StartElement:
			complex = true
			depth++
		case xml.CharData:
			if depth == 0 {
				text = append(text, c...)
			}
		case xml.EndElement:
			if depth > 0 {
				depth--
				continue
			}
			if complex {
				return out, copied, nil
			}
			old := string(text)
			nv, ok := fn(t.Name.Local, old)
			if !ok || nv == old {
				return out, copied, nil
			}
			if out == nil {
				out = make([]byte, 0, len(raw)+len(nv))
			}
			contentEnd := before
			selfClosing := before == int(d.InputOffset())
			if selfClosing {
				// <key/>: rewrite the whole element as <key>value</key>.
				tagStart := bytes.LastIndexByte(raw[:contentStart], '<')
				name := tagName(raw[tagStart+1 : contentStart])
				out = append(out, raw[copied:tagStart]...)
				out = append(out, '<')
				out = append(out, name...)
				out = append(out, '>')
				out = appendEscaped(out, nv)
				out = append(out, "</"...)
				out = append(out, name...)
				out = append(out, '>')
				return out, contentStart, nil
			}
			out = append(out, raw[copied:contentStart]...)
			out = appendEscaped(out, nv)
			return out, contentEnd, nil
		}
	}
}

// tagName returns the element name at the start of a start tag's bytes
// (after '<').
func tagName(b []byte) []byte {
	for i, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r', '/', '>':
			return b[:i]
		}
	}
	return b
}
