package xlsxstream

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tokText tokKind = iota
	tokOpen
	tokClose
)

type token struct {
	kind      tokKind
	name      []byte // local name, namespace prefix dropped
	attrs     []byte
	text      []byte
	selfClose bool
}

// scanner splits XML into text runs and tags. It understands just enough XML for
// spreadsheet parts: declarations, comments and CDATA are handled, DTDs are not expected.
type scanner struct {
	br  *bufio.Reader
	buf []byte
	tok token
}

func newScanner(r io.Reader) *scanner {
	return &scanner{br: bufio.NewReaderSize(r, 256<<10)}
}

// readUntil returns bytes up to (not including) delim; the slice is valid until the next call.
func (s *scanner) readUntil(delim byte) ([]byte, error) {
	b, err := s.br.ReadSlice(delim)
	if err == nil {
		return b[:len(b)-1], nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		return b, err
	}
	s.buf = append(s.buf[:0], b...)
	for {
		b, err = s.br.ReadSlice(delim)
		s.buf = append(s.buf, b...)
		if err == nil {
			return s.buf[:len(s.buf)-1], nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return s.buf, err
		}
	}
}

var errTruncated = errors.New("xml: unexpected end of part")

func (s *scanner) next() (*token, error) {
	for {
		c, err := s.br.ReadByte()
		if err != nil {
			return nil, err
		}
		if c != '<' {
			s.br.UnreadByte()
			text, err := s.readUntil('<')
			if err == io.EOF {
				if len(bytes.TrimSpace(text)) == 0 {
					return nil, io.EOF
				}
				return nil, errTruncated
			}
			if err != nil {
				return nil, err
			}
			s.br.UnreadByte()
			s.tok = token{kind: tokText, text: text}
			return &s.tok, nil
		}
		body, err := s.readUntil('>')
		if err != nil {
			if err == io.EOF {
				return nil, errTruncated
			}
			return nil, err
		}
		if len(body) == 0 {
			continue
		}
		switch body[0] {
		case '?':
			continue
		case '!':
			if bytes.HasPrefix(body, []byte("![CDATA[")) {
				// CDATA may contain '>': read on to "]]>".
				data := append([]byte(nil), body[8:]...)
				for !bytes.HasSuffix(data, []byte("]]")) {
					more, err := s.readUntil('>')
					if err != nil {
						return nil, errTruncated
					}
					data = append(data, '>')
					data = append(data, more...)
				}
				s.tok = token{kind: tokText, text: escapeCDATA(data[:len(data)-2])}
				return &s.tok, nil
			}
			if bytes.HasPrefix(body, []byte("!--")) {
				for !bytes.HasSuffix(body, []byte("--")) {
					body, err = s.readUntil('>')
					if err != nil {
						return nil, errTruncated
					}
				}
			}
			continue
		case '/':
			s.tok = token{kind: tokClose, name: localName(bytes.TrimSpace(body[1:]))}
			return &s.tok, nil
		}
		self := body[len(body)-1] == '/'
		if self {
			body = body[:len(body)-1]
		}
		name := body
		var attrs []byte
		if i := bytes.IndexAny(body, " \t\r\n"); i >= 0 {
			name, attrs = body[:i], body[i+1:]
		}
		s.tok = token{kind: tokOpen, name: localName(name), attrs: attrs, selfClose: self}
		return &s.tok, nil
	}
}

// escapeCDATA re-escapes CDATA text so that the caller's unescape leaves it as it was.
func escapeCDATA(b []byte) []byte {
	return bytes.ReplaceAll(b, []byte("&"), []byte("&amp;"))
}

func localName(n []byte) []byte {
	if i := bytes.IndexByte(n, ':'); i >= 0 {
		return n[i+1:]
	}
	return n
}

// unescape resolves XML entities and the OOXML _xHHHH_ escapes of control characters.
func unescape(s string) string {
	if strings.IndexByte(s, '&') < 0 && !strings.Contains(s, "_x") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c == '&' {
			if j := strings.IndexByte(s[i:], ';'); j > 0 {
				ent := s[i+1 : i+j]
				if r, ok := entity(ent); ok {
					b.WriteRune(r)
					i += j + 1
					continue
				}
			}
		}
		if c == '_' && i+6 < len(s) && s[i+1] == 'x' && s[i+6] == '_' {
			if n, err := strconv.ParseUint(s[i+2:i+6], 16, 32); err == nil {
				b.WriteRune(rune(n))
				i += 7
				continue
			}
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

func entity(e string) (rune, bool) {
	switch e {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "quot":
		return '"', true
	case "apos":
		return '\'', true
	}
	if strings.HasPrefix(e, "#x") || strings.HasPrefix(e, "#X") {
		n, err := strconv.ParseUint(e[2:], 16, 32)
		if err == nil && utf8.ValidRune(rune(n)) {
			return rune(n), true
		}
	} else if strings.HasPrefix(e, "#") {
		n, err := strconv.ParseUint(e[1:], 10, 32)
		if err == nil && utf8.ValidRune(rune(n)) {
			return rune(n), true
		}
	}
	return 0, false
}
