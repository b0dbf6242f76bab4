// Package sdnotify speaks the service manager notification protocol
// (sd_notify(3)) over the datagram socket systemd names in $NOTIFY_SOCKET:
// READY=1 once the service is set up, WATCHDOG=1 while it is healthy,
// RELOADING=1 with MONOTONIC_USEC while it loads a new configuration,
// STOPPING=1 on shutdown and STATUS= for systemctl status.
//
// Outside systemd (no $NOTIFY_SOCKET) every call does nothing, so the
// daemon calls it unconditionally. It owns no policy: when to send what is
// the daemon's decision.
package sdnotify
