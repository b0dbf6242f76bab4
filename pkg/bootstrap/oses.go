package bootstrap

import (
	"fmt"
	"maps"
	"slices"
)

// osInfo is what the scripts need to know about a base OS: how to install
// packages, what the packages and services are called, and where the
// scheduler's packaged defaults live. A package list left empty means the
// OS ships no package for it: the node then needs an image with the
// scheduler installed (headNode.schedulerPreinstalled), and the script
// says so in its failure reason.
type osInfo struct {
	// Name is the OS as people say it, for messages.
	Name string
	// Family is debian (apt) or rhel (dnf or yum).
	Family string
	// Install installs packages non-interactively; the package names follow.
	Install string
	// Repos are commands that enable the extra repositories the packages
	// below come from (EPEL, CodeReady Builder); run once, before Install.
	Repos []string
	// Packages by purpose.
	Packages map[string][]string
	// Services by purpose: systemd unit names.
	Services map[string]string
	// PkgProxy is the file that holds the package manager's proxy setting.
	PkgProxy string
	// Legacy marks an OS past its end of life, kept so that older specs
	// still render; none packages a Slurm recent enough (22.05).
	Legacy bool
}

// Purposes of packages and services.
const (
	pkgBase          = "base"          // curl, NFS client, XFS tools, nvme-cli: every node
	pkgNFSServer     = "nfs-server"    // head node
	pkgRAID          = "raid"          // head node with a RAID array
	pkgSlurmHead     = "slurm-head"    // slurmctld, the clients, munge
	pkgSlurmCompute  = "slurm-compute" // slurmd, the clients, munge
	pkgSGEHead       = "sge-head"      // qmaster, clients
	pkgSGECompute    = "sge-compute"   // execd, clients
	pkgTorqueHead    = "torque-head"   // pbs_server, pbs_sched, clients
	pkgTorqueCompute = "torque-compute"

	svcNFSServer   = "nfs-server"
	svcMunge       = "munge"
	svcSlurmctld   = "slurmctld"
	svcSlurmd      = "slurmd"
	svcSGEMaster   = "sge-master"
	svcSGEExec     = "sge-exec"
	svcTorqueSrv   = "torque-server"
	svcTorqueSched = "torque-sched"
	svcTorqueMom   = "torque-mom"
	svcTorqueAuth  = "torque-auth"
)

var (
	debianServices = map[string]string{
		svcNFSServer: "nfs-kernel-server", svcMunge: "munge", svcSlurmctld: "slurmctld", svcSlurmd: "slurmd",
		svcSGEMaster: "gridengine-master", svcSGEExec: "gridengine-exec",
		svcTorqueSrv: "torque-server", svcTorqueSched: "torque-scheduler", svcTorqueMom: "torque-mom", svcTorqueAuth: "trqauthd",
	}
	rhelServices = map[string]string{
		svcNFSServer: "nfs-server", svcMunge: "munge", svcSlurmctld: "slurmctld", svcSlurmd: "slurmd",
		svcSGEMaster: "sgemaster", svcSGEExec: "sgeexecd",
		svcTorqueSrv: "pbs_server", svcTorqueSched: "pbs_sched", svcTorqueMom: "pbs_mom", svcTorqueAuth: "trqauthd",
	}
	debianBase = []string{"curl", "nfs-common", "xfsprogs", "nvme-cli"}
	rhelBase   = []string{"curl", "nfs-utils", "xfsprogs", "nvme-cli"}
)

// debianLike is an apt-based OS; sge says whether it still packages Grid
// Engine, slurm whether its Slurm is 22.05 or later.
func debianLike(name string, slurm, sge, legacy bool) osInfo {
	p := map[string][]string{
		pkgBase:      debianBase,
		pkgNFSServer: {"nfs-kernel-server"},
		pkgRAID:      {"mdadm"},
	}
	if slurm {
		p[pkgSlurmHead] = []string{"slurmctld", "slurm-client", "munge"}
		p[pkgSlurmCompute] = []string{"slurmd", "slurm-client", "munge"}
	}
	if sge {
		p[pkgSGEHead] = []string{"gridengine-master", "gridengine-client"}
		p[pkgSGECompute] = []string{"gridengine-exec", "gridengine-client"}
	}
	return osInfo{
		Name: name, Family: "debian",
		Install:  "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends",
		Repos:    []string{"apt-get update -q"},
		Packages: p, Services: debianServices,
		PkgProxy: "/etc/apt/apt.conf.d/90driftless-proxy",
		Legacy:   legacy,
	}
}

// rhelLike is a dnf- or yum-based OS whose scheduler packages (when it has
// any) come from EPEL: slurm when EPEL's Slurm is 22.05 or later, torque
// when EPEL has Torque.
func rhelLike(name, install string, repos []string, slurm, torque, legacy bool) osInfo {
	p := map[string][]string{
		pkgBase:      rhelBase,
		pkgNFSServer: {"nfs-utils"},
		pkgRAID:      {"mdadm"},
	}
	if slurm {
		p[pkgSlurmHead] = []string{"slurm", "slurm-slurmctld", "munge"}
		p[pkgSlurmCompute] = []string{"slurm", "slurm-slurmd", "munge"}
	}
	if torque {
		p[pkgTorqueHead] = []string{"torque-server", "torque-scheduler", "torque-client"}
		p[pkgTorqueCompute] = []string{"torque-mom", "torque-client"}
	}
	return osInfo{
		Name: name, Family: "rhel", Install: install, Repos: repos,
		Packages: p, Services: rhelServices,
		PkgProxy: "/etc/dnf/dnf.conf",
		Legacy:   legacy,
	}
}

// oses is the one table of base OSes. Debian 12 (the test machine) shares
// the package and service names of the Ubuntu rows.
var oses = map[string]osInfo{
	// Amazon Linux 2023 has no EPEL and packages no scheduler.
	"alinux2023": rhelLike("Amazon Linux 2023", "dnf install -y -q", nil, false, false, false),
	// Ubuntu 22.04 packages Slurm 21.08, too old for dynamic nodes.
	"ubuntu2204": debianLike("Ubuntu 22.04", false, true, false),
	"ubuntu2404": debianLike("Ubuntu 24.04", true, true, false),
	"rocky9": rhelLike("Rocky Linux 9", "dnf install -y -q",
		[]string{"dnf install -y -q epel-release", "dnf config-manager --set-enabled crb"}, true, true, false),

	// Past their end of life; rendered so that older specs still work.
	"alinux2": func() osInfo {
		o := rhelLike("Amazon Linux 2", "yum install -y -q", []string{"amazon-linux-extras install -y epel"}, false, true, true)
		o.PkgProxy = "/etc/yum.conf"
		return o
	}(),
	"centos7": func() osInfo {
		o := rhelLike("CentOS 7", "yum install -y -q", []string{"yum install -y -q epel-release"}, false, true, true)
		o.PkgProxy = "/etc/yum.conf"
		return o
	}(),
	"ubuntu1804": debianLike("Ubuntu 18.04", false, true, true),
	"ubuntu2004": debianLike("Ubuntu 20.04", false, true, true),
}

// OSes are the base OSes the scripts know, sorted.
func OSes() []string { return slices.Sorted(maps.Keys(oses)) }

// Current are the supported base OSes that have not reached their end of
// life.
func Current() []string {
	var out []string
	for _, n := range OSes() {
		if !oses[n].Legacy {
			out = append(out, n)
		}
	}
	return out
}

func lookupOS(name string) (osInfo, error) {
	o, ok := oses[name]
	if !ok {
		return osInfo{}, fmt.Errorf("bootstrap: unknown base OS %q (known: %v)", name, OSes())
	}
	return o, nil
}
