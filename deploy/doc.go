// Package deploy holds what an office needs to run tisheng as a service, beside the guide
// (docs/运维手册.md): an example systemd unit (tisheng.service), a drop-in that serves HTTPS
// on port 443 (https.conf) and the environment file's template (tisheng.env.example).
// It has no Go code; its test checks those files with systemd-analyze and against the real
// tisheng binary, so that a flag renamed in cmd/tisheng cannot leave a unit that fails to start.
package deploy
