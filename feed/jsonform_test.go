package feed

import "bytes"

// stdJSONForm rewrites the escape \ufffd that encoding/json wrote for
// invalid UTF-8 before Go 1.27 into the character itself, as Go 1.27 and
// Herald's JSON Feed encoder write it (the same string to every JSON
// reader; Herald's bytes must not depend on the toolchain). An escaped
// backslash followed by "ufffd" is left alone.
func stdJSONForm(b []byte) []byte {
	const esc = `\ufffd`
	var out bytes.Buffer
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			out.WriteByte(b[i])
			continue
		}
		if bytes.HasPrefix(b[i:], []byte(esc)) {
			out.WriteString("\uFFFD")
			i += len(esc) - 1
			continue
		}
		// Any other escape: copy the backslash and the escaped byte.
		out.WriteByte(b[i])
		if i+1 < len(b) {
			i++
			out.WriteByte(b[i])
		}
	}
	return out.Bytes()
}
