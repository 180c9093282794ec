import Foundation
import SkiffCloud

/// The recipe of the local cloud's stemcell (`skiff stemcell build`, `skiff://local` in a manifest), kept in code so
/// that any `skiff` binary can build it without the repository beside it. `stemcells/local/` in the repository holds
/// the same files, and a test keeps them equal.
public enum LocalStemcellSource {
    /// The Debian suite the image is made of.
    static let suite = "bookworm"
    /// The stemcell's name and operating system.
    static let name = "bosh-skiff-local-debian-go_agent"
    /// The name of a stemcell with the real bosh-agent.
    static let boshAgentName = "bosh-skiff-local-debian-bosh_agent"
    /// The recipe's version; a stemcell's version is this and a digest of everything in it.
    static let recipeVersion = "4"
    /// A fixed clock for everything the build writes, so the same inputs make the same image.
    static let sourceDateEpoch = "1764547200"

    /// The packages asked for besides Debian's essential set: a shell and core tools, networking (`ip`, two DHCPv6
    /// clients: ISC dhclient as 2016's stemcells had, and dhcpcd, which can skip the random wait before its first
    /// Solicit), `sysctl` and `ps`, user management, `curl` and the CA bundle, the libraries common release binaries
    /// link against, tini, the VM's init, and the runit and monit a BOSH stemcell starts its agent and jobs with.
    static let packages = [
        "bash", "coreutils", "iproute2", "isc-dhcp-client", "dhcpcd-base", "procps", "passwd", "curl",
        "ca-certificates", "libssl3", "libpcre2-8-0", "zlib1g", "libcrypt1", "libstdc++6", "tini", "runit", "monit",
    ]

    /// `stemcells/local/packages.lock`: every package of the image and its version, as the image was last built. The
    /// build asks Debian for exactly these versions and says so when the mirror no longer has them.
    static let packagesLock = """
        # The Debian bookworm packages of skiff's local stemcell and their versions, as last built (name version).
        # skiff stemcell build asks Debian for exactly these; LocalStemcellSource.swift holds the same list.
        adduser 3.134
        apt 2.6.2
        base-files 12.4+deb12u15
        base-passwd 3.6.1
        bash 5.2.15-2+b13
        bsdutils 1:2.38.1-5+deb12u3
        ca-certificates 20250419~deb12u2
        coreutils 9.1-1
        curl 7.88.1-10+deb12u15
        dash 0.5.12-2
        debconf 1.5.82
        dhcpcd-base 9.4.1-24~deb12u5
        debian-archive-keyring 2023.3+deb12u2
        debianutils 5.7-0.5~deb12u1
        diffutils 1:3.8-4
        dpkg 1.21.23
        e2fsprogs 1.47.0-2+b2
        findutils 4.9.0-4
        gcc-12-base 12.2.0-14+deb12u1
        gpgv 2.2.40-1.1+deb12u2
        grep 3.8-5
        gzip 1.12-1
        hostname 3.23+nmu1
        init-system-helpers 1.65.2+deb12u1
        iproute2 6.1.0-3
        isc-dhcp-client 4.4.3-P1-2
        libacl1 2.3.1-3
        libapt-pkg6.0 2.6.2
        libattr1 1:2.5.1-4
        libaudit-common 1:3.0.9-1
        libaudit1 1:3.0.9-1
        libblkid1 2.38.1-5+deb12u3
        libbpf1 1:1.1.2-0+deb12u1
        libbrotli1 1.0.9-2+deb12u1
        libbsd0 0.11.7-2
        libbz2-1.0 1.0.8-5+b1
        libc-bin 2.36-9+deb12u14
        libc6 2.36-9+deb12u14
        libcap-ng0 0.8.3-1+b3
        libcap2 1:2.66-4+deb12u3+b1
        libcap2-bin 1:2.66-4+deb12u3+b1
        libcom-err2 1.47.0-2+b2
        libcrypt1 1:4.4.33-2
        libcurl4 7.88.1-10+deb12u15
        libdb5.3 5.3.28+dfsg2-1
        libdebconfclient0 0.270
        libelf1 0.188-2.1
        libext2fs2 1.47.0-2+b2
        libffi8 3.4.4-1
        libfile-find-rule-perl 0.34-4~deb12u1
        libgcc-s1 12.2.0-14+deb12u1
        libgcrypt20 1.10.1-3+deb12u1
        libgdbm-compat4 1.23-3
        libgdbm6 1.23-3
        libgmp10 2:6.2.1+dfsg1-1.1
        libgnutls30 3.7.9-2+deb12u7
        libgpg-error0 1.46-1
        libgssapi-krb5-2 1.20.1-2+deb12u5
        libhogweed6 3.8.1-2
        libidn2-0 2.3.3-1+b1
        libk5crypto3 1.20.1-2+deb12u5
        libkeyutils1 1.6.3-2
        libkrb5-3 1.20.1-2+deb12u5
        libkrb5support0 1.20.1-2+deb12u5
        libldap-2.5-0 2.5.13+dfsg-5
        liblz4-1 1.9.4-1
        liblzma5 5.4.1-1+deb12u2
        libmd0 1.0.4-2
        libmnl0 1.0.4-3
        libmount1 2.38.1-5+deb12u3
        libncursesw6 6.4-4
        libnettle8 3.8.1-2
        libnghttp2-14 1.52.0-1+deb12u3
        libnumber-compare-perl 0.03-3
        libp11-kit0 0.24.1-2
        libpam-modules 1.5.2-6+deb12u3
        libpam-modules-bin 1.5.2-6+deb12u3
        libpam-runtime 1.5.2-6+deb12u3
        libpam0g 1.5.2-6+deb12u3
        libpcre2-8-0 10.42-1+deb12u2
        libperl5.36 5.36.0-7+deb12u4
        libproc2-0 2:4.0.2-3
        libpsl5 0.21.2-1
        librtmp1 2.4+20151223.gitfa8646d.1-2+b2
        libsasl2-2 2.1.28+dfsg-10+deb12u1
        libsasl2-modules-db 2.1.28+dfsg-10+deb12u1
        libseccomp2 2.5.4-1+deb12u1
        libselinux1 3.4-1+b6
        libsemanage-common 3.4-1
        libsemanage2 3.4-1+b5
        libsepol2 3.4-2.1
        libsmartcols1 2.38.1-5+deb12u3
        libss2 1.47.0-2+b2
        libssh2-1 1.10.0-3+deb12u1
        libssl3 3.0.22-1~deb12u2
        libstdc++6 12.2.0-14+deb12u1
        libsystemd0 252.39-1~deb12u2
        libtasn1-6 4.19.0-2+deb12u1
        libtext-glob-perl 0.11-3
        libtinfo6 6.4-4
        libtirpc-common 1.3.3+ds-1
        libtirpc3 1.3.3+ds-1
        libudev1 252.39-1~deb12u2
        libunistring2 1.0-2
        libuuid1 2.38.1-5+deb12u3
        libxtables12 1.8.9-2
        libxxhash0 0.8.1-1
        libzstd1 1.5.4+dfsg2-5+deb12u1
        login 1:4.13+dfsg1-1+deb12u2
        logsave 1.47.0-2+b2
        mawk 1.3.4.20200120-3.1
        monit 1:5.33.0-1
        mount 2.38.1-5+deb12u3
        ncurses-base 6.4-4
        ncurses-bin 6.4-4
        openssl 3.0.22-1~deb12u2
        passwd 1:4.13+dfsg1-1+deb12u2
        perl 5.36.0-7+deb12u4
        perl-base 5.36.0-7+deb12u4
        perl-modules-5.36 5.36.0-7+deb12u4
        procps 2:4.0.2-3
        runit 2.1.2-54
        runit-helper 2.15.2
        sed 4.9-1+deb12u1
        sysuser-helper 1.3.9+really1.4.3
        sysvinit-utils 3.06-4
        tar 1.34+dfsg-1.2+deb12u1
        tini 0.19.0-1+b3
        tzdata 2026f-0+deb12u1
        usrmerge 37~deb12u1
        util-linux 2.38.1-5+deb12u3
        util-linux-extra 2.38.1-5+deb12u3
        zlib1g 1:1.2.13.dfsg-1+deb12u1
        """

    /// Run in the new root (`$1`) after the packages are installed: the users and groups of a BOSH stemcell, the
    /// BOSH directory layout, nothing of the build host's (resolv.conf, hostname, apt lists, machine id), and no
    /// sysctl file with keys a VM may not set.
    static let customize = """
        set -e
        chroot "$1" groupadd --system admin
        chroot "$1" groupadd --system bosh_sudoers
        chroot "$1" groupadd --system bosh_sshers
        chroot "$1" groupadd --gid 1000 vcap
        chroot "$1" useradd --uid 1000 --gid vcap --groups admin,bosh_sudoers,bosh_sshers --create-home \
            --shell /bin/bash vcap
        chroot "$1" useradd --system --no-create-home --shell /usr/sbin/nologin syslog
        for d in bosh/bin bosh/lib bosh/log bosh/etc data jobs packages store sys/log sys/run monit; do
            mkdir -p "$1/var/vcap/$d"
        done
        chmod 0700 "$1/var/vcap/bosh"
        chmod 0775 "$1/var/vcap/sys/log"
        rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log
        rm -f "$1/etc/resolv.conf" "$1/etc/hostname" "$1/etc/machine-id"
        # fs.protected_* are the host kernel's, not a VM's to set: without this file `sysctl --system` (os-conf's
        # sysctl job, under set -e) would fail on keys it may not write. The host's own values apply in the VM.
        rm -f "$1/usr/lib/sysctl.d/99-protect-links.conf"
        printf 'nameserver 127.0.0.1\\n' > "$1/etc/resolv.conf"
        printf 'localhost\\n' > "$1/etc/hostname"

        """

    /// `stemcell.MF`, with `VERSION` for the stemcell's version.
    static let manifestTemplate = """
        ---
        name: bosh-skiff-local-debian-go_agent
        version: 'VERSION'
        bosh_protocol: 1
        api_version: 2
        operating_system: debian-bookworm
        stemcell_formats:
        - skiff-local
        cloud_properties:
          name: bosh-skiff-local-debian-go_agent
          version: 'VERSION'
          infrastructure: skiff-local
          architecture: x86_64

        """

    /// The files the build adds to `image/`, by path (executables have mode 0755).
    static let imageFiles: [(path: String, content: String)] = [
        (
            "skiff-image.json",
            """
            {
              "format": "skiff-local",
              "agent": {
                "command": ["/var/vcap/bosh/bin/skiff-agent"]
              }
            }

            """
        ),
        (
            "root/etc/sysctl.d/60-skiff-disable-ipv6.conf",
            """
            # Hardened BOSH stemcells boot with IPv6 off; a job (enable_ipv6) turns it on.
            net.ipv6.conf.all.disable_ipv6 = 1
            net.ipv6.conf.default.disable_ipv6 = 1
            # Every address on the local cloud's private bridge is handed out by its DHCPv6 server, so duplicate
            # address detection and the random delay before the first router solicitation only slow the boot.
            net.ipv6.conf.all.accept_dad = 0
            net.ipv6.conf.default.accept_dad = 0
            net.ipv6.conf.eth0.accept_dad = 0
            net.ipv6.conf.all.router_solicitation_delay = 0
            net.ipv6.conf.default.router_solicitation_delay = 0
            net.ipv6.conf.eth0.router_solicitation_delay = 0

            """
        ),
        (
            "root/var/vcap/bosh/bin/skiff-init",
            """
            #!/bin/sh
            # The first program of a skiff local VM, run by tini: /proc/sys becomes read-only except net.*, which
            # belongs to the VM's own network namespace; then the agent command given as arguments runs, its output
            # in /var/vcap/bosh/log/agent.log.
            mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys &&
                mount --bind /proc/sys/net /proc/sys/net && mount -o remount,bind,rw /proc/sys/net ||
                echo "skiff-init: cannot make /proc/sys read-only" >&2
            cd /
            exec "$@" </dev/null >>/var/vcap/bosh/log/agent.log 2>&1

            """
        ),
        (
            "root/var/vcap/bosh/bin/skiff-agent",
            """
            #!/bin/sh
            # skiff's agent, with the Swift runtime it was built with in /var/vcap/bosh/lib.
            LD_LIBRARY_PATH=/var/vcap/bosh/lib exec /var/vcap/bosh/bin/skiff agent \\
                --settings /var/vcap/bosh/settings.json

            """
        ),
        (
            "root/var/vcap/bosh/README",
            "The agent's home inside a skiff local VM: settings.json (written by the CPI, 0600), bin/, lib/ and log/.\n"
        ),
    ]

    /// The Debian packages pinned by ``packagesLock``, as `name=version`.
    static var pins: [String] {
        packagesLock.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 2, !line.hasPrefix("#") else { return nil }
            return "\(fields[0])=\(fields[1])"
        }
    }
}

extension LocalStemcellSource {
    /// Writes the recipe's files as `stemcells/local` has them: `packages.lock` and `image/…`.
    public static func writeRecipe(to directory: String) throws(CloudError) {
        try Files.makeDirectory(directory)
        try Files.write(packagesLock + "\n", to: directory + "/packages.lock")
        for file in imageFiles {
            let path = directory + "/image/" + file.path
            try Files.makeDirectory((path as NSString).deletingLastPathComponent)
            try Files.write(file.content, to: path, mode: mode(of: file.path))
        }
        for file in boshAgentOwnFiles {
            let path = directory + "/bosh-agent/image/" + file.path
            try Files.makeDirectory((path as NSString).deletingLastPathComponent)
            try Files.write(file.content, to: path, mode: mode(of: file.path))
        }
    }
}
