package mailer

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Confirmation builds the double opt-in mail asking r to confirm at
// confirmURL, which works for validFor (said in the mail; 0: not said).
// When r.UnsubscribeURL is set the mail carries the newsletter's
// List-Id, List-Unsubscribe (https, and mailto when configured) and
// one-click headers. Its Message-ID is random.
func (c *Composer) Confirmation(r Recipient, confirmURL string, validFor time.Duration) (*Message, error) {
	to, err := recipientAddress(r)
	if err != nil {
		return nil, err
	}
	confirm, err := checkUnsubscribeURL(confirmURL)
	if err != nil {
		return nil, fmt.Errorf("mailer: confirmation URL: %w", errors.Unwrap(err))
	}
	data := templateData{
		Site:       c.site,
		Title:      "Confirm your subscription to " + c.site.Title,
		Recipient:  recipientData{Email: to.Address},
		ConfirmURL: confirm,
		Footer:     c.footer,
	}
	if validFor > 0 {
		data.ValidFor = humanDuration(validFor)
	}
	var htmlBuf, textBuf bytes.Buffer
	if err := c.tmpl.confirmHTML.Execute(&htmlBuf, data); err != nil {
		return nil, fmt.Errorf("mailer: rendering confirm.html: %w", err)
	}
	if err := c.tmpl.confirmText.Execute(&textBuf, data); err != nil {
		return nil, fmt.Errorf("mailer: rendering confirm.txt: %w", err)
	}
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("mailer: %w", err)
	}
	domain := c.from.Address[strings.LastIndexByte(c.from.Address, '@')+1:]
	id := "confirm." + hex.EncodeToString(rnd[:]) + "@" + domain
	boundary := boundaryFor(textBuf.String(), htmlBuf.String(), nil)

	buf := bytes.NewBuffer(make([]byte, 0, 4*(htmlBuf.Len()+textBuf.Len())/3+2048))
	writeHeader(buf, "From", c.fromHdr)
	writeHeader(buf, "To", to.String())
	writeHeader(buf, "Subject", encodeText(sanitizeLine(data.Title)))
	writeHeader(buf, "Date", c.now().In(c.loc).Format(time.RFC1123Z))
	writeHeader(buf, "Message-ID", "<"+id+">")
	writeHeader(buf, "MIME-Version", "1.0")
	if r.UnsubscribeURL != "" {
		unsub, err := checkUnsubscribeURL(r.UnsubscribeURL)
		if err != nil {
			return nil, err
		}
		writeHeader(buf, "List-Id", c.listID)
		writeHeader(buf, "List-Unsubscribe", listUnsubscribe(unsub, c.mailto))
		writeHeader(buf, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}
	writeHeader(buf, "Auto-Submitted", "auto-generated")
	writeHeader(buf, "X-Mailer", "Herald")
	writeHeader(buf, "Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	buf.WriteString("\r\n")
	writePart(buf, boundary, "text/plain", segmentize(wrapText(textBuf.String(), textWidth), nil), nil)
	writePart(buf, boundary, "text/html", segmentize(htmlBuf.String(), nil), nil)
	buf.WriteString("--" + boundary + "--\r\n")
	out := buf.Bytes()
	if c.dkim != nil {
		if out, err = c.dkim.sign(out); err != nil {
			return nil, err
		}
	}
	return &Message{to: to.Address, from: c.from.Address, id: id, data: out}, nil
}
