package jobfile

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// setUmask decodes umask: an octal string ("022", "0022", "0o22") or a JSON
// number whose digits are read as octal (22 means 0o22), because JSON has no
// octal literals and 022 is not valid JSON. "" inherits taskmasterd's umask.
func setUmask(p *parser, raw json.RawMessage) error {
	if isNumber(raw) {
		return umaskNumber(p, string(raw))
	}
	s, err := asString(raw, `an octal string like "022" or a number like 22`)
	if err != nil {
		return err
	}
	if s == "" {
		p.spec.Umask = -1
		return nil
	}
	digits, ok := strings.CutPrefix(s, "0o")
	if !ok {
		digits = strings.TrimPrefix(s, "0O")
	}
	v, err := strconv.ParseUint(digits, 8, 32)
	if err != nil {
		return fmt.Errorf(`expected an octal string like "022" (digits 0 to 7), got %s`, quoteShort(s))
	}
	return storeUmask(p, v, strconv.Quote(s))
}

// umaskNumber decodes a umask written as a JSON number.
func umaskNumber(p *parser, lit string) error {
	if strings.ContainsAny(lit, "-.eE") {
		return fmt.Errorf(`expected an octal umask like "022" or 22, got %s`, lit)
	}
	if strings.ContainsAny(lit, "89") {
		return fmt.Errorf(`the number %s is not octal (it has the digit 8 or 9); write the umask as an octal string like "022"`, lit)
	}
	v, err := strconv.ParseUint(lit, 8, 32)
	if err != nil {
		return fmt.Errorf("expected a umask from 0 to 777 (octal), got %s", lit)
	}
	return storeUmask(p, v, lit)
}

// storeUmask checks the range of a decoded umask and stores it.
func storeUmask(p *parser, v uint64, lit string) error {
	if v > 0o777 {
		return fmt.Errorf("expected a umask from 0 to 0777 (octal), got %s", lit)
	}
	p.spec.Umask = int(v)
	return nil
}
