// Package sge adapts (Son of) Grid Engine to the fleet loop. It reads
// queue instances and jobs from qstat -f -xml, instance ids from an
// optional host complex (qhost -F), drains and resumes hosts with qmod -d
// and qmod -e on every queue instance of the host, and removes a retired
// host from the @allhosts host group and the execution hosts, as
// CfnCluster did.
//
// Grid Engine keeps no reason for a disabled queue, so the loop knows its
// own drains only from memory: after a daemon restart a host the loop had
// disabled is treated like one a person disabled and left alone until it
// is enabled again.
package sge
