// Package torque adapts Torque (PBS) to the fleet loop: nodes from
// pbsnodes -x, jobs from qstat -x, drains with pbsnodes -o and a note,
// resumes with pbsnodes -c.
//
// No Torque package exists in Debian 12, so this adapter is tested only
// against the XML formats Torque's documentation describes (testdata holds
// samples written after it), not against a running server.
package torque
