package metrics

import (
	"net/url"
	"strings"

	"github.com/pinspect/pinspect/views/sanitize"
)

// LabelValue makes a /proc string safe as a label value: valid UTF-8,
// control characters shown as '?', at most maxLabelBytes bytes (cut on a
// character boundary).
func LabelValue(s string) string {
	return truncateUTF8(sanitize.Terminal(s), maxLabelBytes)
}

// CmdlineLabel is the `cmdline` label of a process (only with
// --metrics.cmdline): the arguments after RedactArgs, sanitised, joined
// with spaces and cut at maxCmdlineLabel bytes.
func CmdlineLabel(args []string) string {
	return truncateUTF8(sanitize.Args(RedactArgs(args)), maxCmdlineLabel)
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && s[i]&0xC0 == 0x80 { // back up to the start of a rune
		i--
	}
	return s[:i]
}

// Redacted replaces a secret in RedactArgs's output.
const Redacted = "<redacted>"

// sensitiveWords mark an option name or key whose value is a secret.
var sensitiveWords = []string{
	"pass", "pwd", "secret", "token", "key", "auth", "cred", "session",
	"cookie", "signature", "private",
}

func sensitive(name string) bool {
	name = strings.ToLower(name)
	for _, w := range sensitiveWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// RedactArgs returns a copy of a command line with likely secrets
// replaced by Redacted: the value of an option or key=value whose name
// contains a sensitive word (password, secret, token, key, auth,
// credential, session, cookie, signature, private) in the forms
// --name=value, name=value and "--name value", and the password of any
// URL with user information. It is a filter for labels, not a guarantee:
// command lines are exported only when the operator opts in.
func RedactArgs(args []string) []string {
	out := make([]string, len(args))
	redactNext := false
	for i, a := range args {
		if redactNext {
			redactNext = false
			if !strings.HasPrefix(a, "-") {
				out[i] = Redacted
				continue
			}
		}
		if k, _, ok := strings.Cut(a, "="); ok && sensitive(strings.TrimLeft(k, "-")) {
			out[i] = k + "=" + Redacted
			continue
		}
		if strings.HasPrefix(a, "-") && sensitive(strings.TrimLeft(a, "-")) {
			out[i] = a
			redactNext = true
			continue
		}
		out[i] = redactURL(a)
	}
	return out
}

// redactURL hides the password of scheme://user:password@host anywhere in
// the argument.
func redactURL(a string) string {
	i := strings.Index(a, "://")
	if i < 0 {
		return a
	}
	// Find the URL's extent: up to the next space (arguments rarely hold
	// more than one).
	start := strings.LastIndexAny(a[:i], " \t'\"=") + 1
	end := len(a)
	if j := strings.IndexAny(a[i:], " \t'\""); j >= 0 {
		end = i + j
	}
	u, err := url.Parse(a[start:end])
	if err != nil || u.User == nil {
		if at := strings.LastIndex(a[i:end], "@"); at >= 0 {
			// Unparseable but has user information: drop it whole.
			return a[:i+3] + Redacted + a[i+at:]
		}
		return a
	}
	if _, has := u.User.Password(); !has {
		return a
	}
	u.User = url.UserPassword(u.User.Username(), "REDACTED")
	s := strings.Replace(u.String(), "REDACTED", Redacted, 1)
	return a[:start] + s + a[end:]
}
