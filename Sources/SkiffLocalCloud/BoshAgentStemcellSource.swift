import Foundation

/// The recipe of a local stemcell with the real bosh-agent (`skiff stemcell build --agent PATH`): what a BOSH
/// stemcell gives its agent, on the same Debian image as the stemcell with skiff's agent. `stemcells/local/bosh-agent/`
/// in the repository holds the same files, and a test keeps them equal.
///
/// As on a BOSH stemcell, runit (`runsvdir /etc/service`) supervises the agent and, once the agent has written
/// `/var/vcap/monit/monit.user` and run `sv up monit`, monit. The agent reads its settings with the `HTTP` source of
/// AWS stemcells from the instance metadata service the local cloud serves the VM on 169.254.169.254.
extension LocalStemcellSource {
    /// Where the agent binary goes in the image.
    static let boshAgentPath = "/var/vcap/bosh/bin/bosh-agent"

    /// Links the build makes in the image's root (path → target).
    static let boshAgentLinks: [(path: String, target: String)] = [
        ("etc/service/agent", "/etc/sv/agent"),
        ("etc/service/monit", "/etc/sv/monit"),
        ("etc/service/monit-api", "/etc/sv/monit-api"),
        ("etc/service/syslog", "/etc/sv/syslog"),
        ("etc/resolv.conf", "../run/resolvconf/resolv.conf"),
        ("var/vcap/bosh/bin/monit", "/usr/bin/monit"),
    ]

    /// The image files of a stemcell with the real agent: the skiff-local files every image has (the init, the
    /// sysctl file) and these.
    static var boshAgentImageFiles: [(path: String, content: String)] {
        imageFiles.filter { sharedImageFiles.contains($0.path) } + boshAgentOwnFiles
    }

    /// The files of ``imageFiles`` that a stemcell with the real agent has too.
    static let sharedImageFiles: Set<String> = [
        "root/etc/sysctl.d/60-skiff-disable-ipv6.conf", "root/var/vcap/bosh/bin/skiff-init",
    ]

    /// The mode a recipe file gets: runit's `run` scripts and everything in a `bin` directory are executable, monit's
    /// control file is the owner's alone (monit refuses it otherwise).
    static func mode(of path: String) -> Int {
        if path.hasSuffix("/monitrc") { return 0o600 }
        return path.contains("/bin/") || path.contains("/sbin/") || path.hasSuffix("/run") ? 0o755 : 0o644
    }

    static let boshAgentOwnFiles: [(path: String, content: String)] = [
        (
            "skiff-image.json",
            """
            {
              "format": "skiff-local",
              "agent": {
                "command": ["/var/vcap/bosh/bin/skiff-runsvdir"],
                "settings": "instance-metadata"
              },
              "tmpfs": ["/var/vcap/data"],
              "own_mounts": ["/home"]
            }

            """
        ),
        (
            "root/var/vcap/bosh/agent.json",
            """
            {
              "Platform": {
                "Linux": {
                  "SkipDiskSetup": true,
                  "UseDefaultTmpDir": true,
                  "UsePreformattedPersistentDisk": true,
                  "BindMountPersistentDisk": true
                }
              },
              "Infrastructure": {
                "Settings": {
                  "Sources": [
                    {
                      "Type": "HTTP",
                      "URI": "http://169.254.169.254",
                      "UserDataPath": "/latest/user-data",
                      "InstanceIDPath": "/latest/meta-data/instance-id",
                      "SSHKeysPath": "/latest/meta-data/public-keys/0/openssh-key",
                      "TokenPath": "/latest/api/token"
                    }
                  ],
                  "UseServerName": false,
                  "UseRegistry": false
                }
              }
            }

            """
        ),
        (
            "root/var/vcap/bosh/bin/skiff-runsvdir",
            """
            #!/bin/sh
            # The agent command of a skiff local VM with the real bosh-agent, run by skiff-init: the resolvconf
            # layout's run directory, then runit supervising the services in /etc/service (the agent, monit's API
            # front, and monit once the agent starts it), as on a BOSH stemcell.
            mkdir -p /run/resolvconf/interface
            /usr/sbin/resolvconf -u
            exec /usr/bin/runsvdir -P /etc/service

            """
        ),
        (
            "root/etc/sv/agent/run",
            """
            #!/bin/sh
            # runit's service of the BOSH agent, as on a BOSH stemcell; its log is /var/vcap/bosh/log/current.
            exec 2>&1
            export PATH=/var/vcap/bosh/bin:$PATH
            exec /var/vcap/bosh/bin/bosh-agent -P ubuntu -C /var/vcap/bosh/agent.json

            """
        ),
        (
            "root/etc/sv/agent/log/run",
            """
            #!/bin/sh
            exec svlogd -tt /var/vcap/bosh/log

            """
        ),
        (
            "root/etc/sv/monit/run",
            """
            #!/bin/sh
            # monit, started by the agent (`sv up monit`) once it has written /var/vcap/monit/monit.user.
            exec 2>&1
            exec /usr/bin/monit -I -c /etc/monit/monitrc

            """
        ),
        ("root/etc/sv/monit/down", ""),
        (
            "root/etc/sv/monit-api/run",
            """
            #!/bin/sh
            exec 2>&1
            exec /usr/bin/perl /var/vcap/bosh/bin/skiff-monit-api

            """
        ),
        (
            "root/etc/sv/syslog/run",
            """
            #!/bin/sh
            exec 2>&1
            exec /usr/bin/perl /var/vcap/bosh/bin/skiff-syslog

            """
        ),
        (
            "root/var/vcap/bosh/bin/skiff-syslog",
            """
            #!/usr/bin/perl
            # The VM's /dev/log: BOSH stemcells run rsyslog, and the agent sends its audit log there (and retries
            # every 100 ms, logging an error each time, while nothing listens). Messages go to
            # /var/vcap/bosh/log/syslog, which is started afresh when it passes 10 MB.
            use strict;
            use warnings;
            use Socket;
            use IO::Socket::UNIX;

            my $path = '/var/vcap/bosh/log/syslog';
            unlink '/dev/log';
            my $socket = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => '/dev/log')
                or die "skiff-syslog: cannot listen on /dev/log: $!\\n";
            chmod 0666, '/dev/log';
            my $out;
            while (defined $socket->recv(my $message, 65536)) {
                if (!$out || -s $path > 10_000_000) {
                    open $out, '>', $path or die "skiff-syslog: cannot write $path: $!\\n";
                    $out->autoflush(1);
                }
                $message =~ s/\\n\\z//;
                print $out "$message\\n";
            }

            """
        ),
        (
            "root/etc/monit/monitrc",
            """
            # monit of a skiff local VM with the real bosh-agent. The agent reads its credentials from monit.user and
            # writes its jobs' control files to /var/vcap/monit/job. monit's own HTTP server is on port 2823; the
            # agent talks to skiff-monit-api on 2822 (see that script for why).
            set daemon 10
            set logfile /var/vcap/monit/monit.log
            set pidfile /run/monit.pid
            set idfile /var/vcap/monit/monit.id
            set statefile /var/vcap/monit/monit.state
            set httpd port 2823 and use address 127.0.0.1
                allow cleartext /var/vcap/monit/monit.user
            include /var/vcap/monit/*.monitrc
            include /var/vcap/monit/job/*.monitrc

            """
        ),
        (
            "root/var/vcap/bosh/bin/skiff-monit-api",
            """
            #!/usr/bin/perl
            # monit's HTTP API on 127.0.0.1:2822, where the BOSH agent expects it. BOSH stemcells build monit 5.2.5;
            # Debian's monit 5.33 (on 127.0.0.1:2823 here) differs from it twice, and this front makes up for both:
            # - it refuses every form POST without a CSRF token pair (a `securitytoken` parameter equal to a
            #   `securitytoken` cookie), and the agent sends none, so its start, stop and unmonitor requests would fail
            #   with "403 Invalid CSRF Token": each POST gets that pair;
            # - it runs no stop program for a service that is not monitored, and the agent's `stop` unmonitors every
            #   job before it stops them (5.2.5 stops them all the same), so no job would stop: a stop is preceded by
            #   a monitor request for the same service.
            # Everything else passes through unchanged; Basic authentication is monit's, with monit.user.
            use strict;
            use warnings;
            use IO::Socket::INET;

            $SIG{CHLD} = 'IGNORE';
            my $server = IO::Socket::INET->new(
                LocalAddr => '127.0.0.1', LocalPort => 2822, Listen => 16, ReuseAddr => 1)
                or die "skiff-monit-api: cannot listen on 127.0.0.1:2822: $!\\n";
            while (my $client = $server->accept) {
                my $pid = fork;
                if (!defined $pid || $pid) { close $client; next; }
                close $server;
                relay($client);
                exit 0;
            }

            sub relay {
                my ($client) = @_;
                my @lines;
                while (defined(my $line = <$client>)) {
                    $line =~ s/\\r?\\n\\z//;
                    last if $line eq '';
                    push @lines, $line;
                }
                my $request = shift @lines or return;
                my ($method) = split / /, $request;
                my $length = 0;
                my @headers;
                for my $header (@lines) {
                    if ($header =~ /^content-length:\\s*(\\d+)/i) { $length = $1; next; }
                    next if $header =~ /^(connection|cookie):/i;
                    push @headers, $header;
                }
                my $body = '';
                read($client, $body, $length) if $length > 0;
                if ($method eq 'POST' && $body =~ /(?:^|&)action=stop(?:&|$)/ && $request =~ m{^POST /([\\w.-]+)[ ?]}) {
                    monitor_first($1, $request, \\@headers);
                }
                my $monit = send_to_monit($request, \\@headers, $method, $body);
                if (!$monit) {
                    print $client "HTTP/1.0 503 Service Unavailable\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n";
                    return;
                }
                my $buffer;
                while (sysread($monit, $buffer, 65536)) { print $client $buffer; }
                close $client;
            }

            # Asks monit to monitor `service` again and waits (up to 2 s) until it does: monit keeps one pending action per
            # service, so a stop sent at once would replace the monitor request before monit carried it out.
            sub monitor_first {
                my ($service, $request, $headers) = @_;
                answer_of(send_to_monit($request, $headers, 'POST', 'action=monitor'));
                my @status_headers = grep { !/^(content-type|accept-encoding):/i } @$headers;
                for (1 .. 100) {
                    my $xml = answer_of(send_to_monit("GET /_status?format=xml HTTP/1.0", \\@status_headers, 'GET', ''));
                    return if $xml =~ m{<name>\\Q$service\\E</name>(?:(?!</service>).)*<monitor>[1-9]\\d*</monitor>(?:(?!</service>).)*<pendingaction>0</pendingaction>}s;
                    select(undef, undef, undef, 0.02);
                }
            }

            # Everything monit answers on `connection` (nothing when there is no connection).
            sub answer_of {
                my ($connection) = @_;
                return '' unless $connection;
                my ($answer, $buffer) = ('', '');
                while (sysread($connection, $buffer, 65536)) { $answer .= $buffer; }
                close $connection;
                return $answer;
            }

            # Sends one request to monit, a POST with a fresh CSRF token pair; returns the connection to read the answer from.
            sub send_to_monit {
                my ($request, $given, $method, $body) = @_;
                my @headers = @$given;
                if ($method eq 'POST') {
                    my $token = join '', map { sprintf '%02x', int(rand(256)) } 1 .. 16;
                    $body = length($body) ? "$body&securitytoken=$token" : "securitytoken=$token";
                    push @headers, "Cookie: securitytoken=$token";
                }
                push @headers, 'Content-Length: ' . length($body) if length($body) || $method eq 'POST';
                push @headers, 'Connection: close';
                my $monit = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => 2823) or return;
                print $monit join("\\r\\n", $request, @headers) . "\\r\\n\\r\\n" . $body;
                return $monit;
            }

            """
        ),
        (
            "root/usr/sbin/resolvconf",
            """
            #!/bin/sh
            # resolvconf as the BOSH agent uses it (Ubuntu's layout): /etc/resolv.conf links to
            # /run/resolvconf/resolv.conf, made from /etc/resolvconf/resolv.conf.d/head, base and tail and the entries
            # interfaces added with `-a IFACE` (read from standard input); `-d IFACE` removes them, `-u` remakes it.
            set -e
            run=/run/resolvconf
            conf=/etc/resolvconf/resolv.conf.d
            mkdir -p "$run/interface"
            case "${1:--u}" in
            -a) cat >"$run/interface/$2" ;;
            -d) rm -f "$run/interface/$2" ;;
            -u) ;;
            --enable-updates | --disable-updates | --updates-are-enabled) exit 0 ;;
            *)
                echo "resolvconf: unknown option '$1'" >&2
                exit 99
                ;;
            esac
            cat "$conf/head" "$conf/base" "$run"/interface/* "$conf/tail" >"$run/resolv.conf.new" 2>/dev/null || true
            mv "$run/resolv.conf.new" "$run/resolv.conf"

            """
        ),
        (
            "root/etc/systemd/network/10_eth0.network",
            """
            # eth0 is configured by skiff's local cloud before the VM starts (its networks are `preconfigured`). The
            # BOSH agent counts an interface as configured when this file exists, and as the VM's own when its alias
            # begins with bosh-interface (a veth has no device), so it leaves eth0 alone.
            [Match]
            Name=eth0

            """
        ),
        ("root/etc/resolvconf/resolv.conf.d/head", "# Made by resolvconf from /etc/resolvconf/resolv.conf.d.\n"),
        ("root/etc/resolvconf/resolv.conf.d/base", ""),
        ("root/etc/resolvconf/resolv.conf.d/tail", ""),
        (
            "root/var/vcap/bosh/bin/bosh-agent-rc",
            """
            #!/bin/sh
            # Run by the agent when it starts (its runtime configuration hook on BOSH stemcells); a skiff local VM
            # needs nothing here.
            exit 0

            """
        ),
        (
            "root/var/vcap/bosh/bin/bosh-start-logging-and-auditing",
            """
            #!/bin/sh
            # Run by the agent once its settings are loaded; BOSH stemcells start rsyslog and auditd here. A skiff
            # local VM has no auditd, and skiff-syslog (a runit service from boot) serves /dev/log.
            exit 0

            """
        ),
        (
            "root/var/vcap/bosh/README",
            "The real bosh-agent's home inside a skiff local VM: agent.json (its settings come from the instance "
                + "metadata service), bin/ and log/ (log/current is the agent's log).\n"
        ),
    ]
}
