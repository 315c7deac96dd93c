package xlsxstream

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
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
	br     *bufio.Reader
	buf    []byte
	tok    token
	maxTok int // longest tag or text run held; longer is errTokenTooLong
}

func newScanner(r io.Reader, maxTok int) *scanner {
	return &scanner{br: bufio.NewReaderSize(r, 64<<10), maxTok: maxTok}
}

// readUntil returns bytes up to (not including) delim; the slice is valid until the next call.
func (s *scanner) readUntil(delim byte) ([]byte, error) {
	b, err := s.br.ReadSlice(delim)
	if len(b) > s.maxTok+1 {
		return nil, errTokenTooLong
	}
	if err == nil {
		return b[:len(b)-1], nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		return b, err
	}
	s.buf = append(s.buf[:0], b...)
	for {
		if len(s.buf) > s.maxTok {
			return nil, errTokenTooLong
		}
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
			if err == io.EOF && len(text) <= s.maxTok {
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
			if err == io.EOF && len(body) <= s.maxTok {
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
					if len(data) > s.maxTok {
						return nil, errTokenTooLong
					}
					more, err := s.readUntil('>')
					if err == errTokenTooLong {
						return nil, err
					}
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
					if err == errTokenTooLong {
						return nil, err
					}
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

// text turns a text node's raw bytes into its value: line ends normalised as XML requires
// (CRLF and a lone CR are LF; only an escaped CR survives), then entities and _xHHHH_
// escapes resolved.
func text(raw string) string { return unescape(normalizeNewlines(raw)) }

func normalizeNewlines(s string) string {
	if strings.IndexByte(s, '\r') < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// unescape resolves XML entities and the OOXML _xHHHH_ escapes of control characters; an
// escaped UTF-16 surrogate pair (_xD801__xDC05_) is one character.
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
		if n, ok := xEscape(s, i); ok {
			if utf16.IsSurrogate(rune(n)) {
				if lo, ok := xEscape(s, i+7); ok && n < 0xDC00 && lo >= 0xDC00 && lo <= 0xDFFF {
					b.WriteRune(utf16.DecodeRune(rune(n), rune(lo)))
					i += 14
					continue
				}
			}
			b.WriteRune(rune(n)) // a lone surrogate becomes U+FFFD
			i += 7
			continue
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

// xEscape reads an _xHHHH_ escape at s[i:].
func xEscape(s string, i int) (uint64, bool) {
	if i+6 >= len(s) || s[i] != '_' || s[i+1] != 'x' || s[i+6] != '_' {
		return 0, false
	}
	n, err := strconv.ParseUint(s[i+2:i+6], 16, 32)
	return n, err == nil
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
