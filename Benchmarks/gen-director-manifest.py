#!/usr/bin/env python3
"""Writes a director-like create-env input into DIR: manifest.yml, five ops files and vars.yml.

It stands in for bosh-deployment's bosh.yml with five ops files (which are not available offline): the same
shape and size (one instance group of six jobs, ~270 lines of manifest, typed variables), 20 certificate
variables (5 CAs, 15 leaf certificates with RSA-3072 keys), one rsa and one ssh key, 13 passwords, and ops
files that replace, append, remove and add variables with go-patch paths like bosh-deployment's.

Usage: gen-director-manifest.py DIR
"""
import os
import sys


def cert(name, ca=None, cn=None, sans=None, usage=None, is_ca=False):
    lines = [f"- name: {name}", "  type: certificate", "  options:"]
    if is_ca:
        lines += ["    is_ca: true", f"    common_name: {cn or name}"]
    else:
        lines += [f"    ca: {ca}", f"    common_name: {cn or '((internal_ip))'}"]
        if sans:
            lines += ["    alternative_names:"] + [f"    - {s}" for s in sans]
        if usage:
            lines += ["    extended_key_usage:"] + [f"    - {u}" for u in usage]
    return lines


def password(name):
    return [f"- name: {name}", "  type: password"]


def manifest():
    m = """name: bosh
releases:
- name: bosh
  version: 280.0.0
  url: https://example.invalid/bosh-280.0.0.tgz
  sha1: 0000000000000000000000000000000000000001
- name: bpm
  version: 1.2.0
  url: https://example.invalid/bpm-1.2.0.tgz
  sha1: 0000000000000000000000000000000000000002
resource_pools:
- name: vms
  network: default
  env:
    bosh:
      password: '*'
      mbus:
        cert: ((mbus_bootstrap_ssl))
      ntp: [time1.example.test, time2.example.test, time3.example.test, time4.example.test]
      blobstores:
      - provider: local
        options:
          blobstore_path: /var/vcap/micro_bosh/data/cache
disk_pools:
- name: disks
  disk_size: 65536
networks:
- name: default
  type: manual
  subnets:
  - range: ((internal_cidr))
    gateway: ((internal_gw))
    static: [((internal_ip))]
    dns: [2001:db8::53]
instance_groups:
- name: bosh
  instances: 1
  jobs:
  - {name: bpm, release: bpm}
  - {name: nats, release: bosh}
  - {name: postgres, release: bosh}
  - {name: blobstore, release: bosh}
  - {name: director, release: bosh}
  - {name: health_monitor, release: bosh}
  resource_pool: vms
  persistent_disk_pool: disks
  networks:
  - name: default
    static_ips: [((internal_ip))]
  properties:
    agent:
      mbus: nats://((internal_ip)):4222
      env:
        bosh:
          blobstores:
          - provider: dav
            options:
              endpoint: https://((internal_ip)):25250
              user: agent
              password: ((blobstore_agent_password))
              tls:
                cert:
                  ca: ((blobstore_ca.certificate))
    nats:
      address: ((internal_ip))
      user: nats
      password: ((nats_password))
      tls:
        ca: ((nats_server_tls.ca))
        client_ca:
          certificate: ((nats_ca.certificate))
          private_key: ((nats_ca.private_key))
        server:
          certificate: ((nats_server_tls.certificate))
          private_key: ((nats_server_tls.private_key))
        director:
          certificate: ((nats_clients_director_tls.certificate))
          private_key: ((nats_clients_director_tls.private_key))
        health_monitor:
          certificate: ((nats_clients_health_monitor_tls.certificate))
          private_key: ((nats_clients_health_monitor_tls.private_key))
    postgres: &db
      listen_address: 127.0.0.1
      host: 127.0.0.1
      user: postgres
      password: ((postgres_password))
      database: bosh
      adapter: postgres
    blobstore:
      address: ((internal_ip))
      port: 25250
      provider: dav
      director:
        user: director
        password: ((blobstore_director_password))
      agent:
        user: agent
        password: ((blobstore_agent_password))
      tls:
        cert:
          ca: ((blobstore_ca.certificate))
          certificate: ((blobstore_server_tls.certificate))
          private_key: ((blobstore_server_tls.private_key))
    director:
      address: 127.0.0.1
      name: ((director_name))
      db: *db
      flush_arp: true
      enable_post_deploy: true
      generate_vm_passwords: true
      enable_dedicated_status_worker: true
      enable_nats_delivered_templates: true
      workers: 4
      local_dns:
        enabled: true
      events:
        record_events: true
      ssl:
        key: ((director_ssl.private_key))
        cert: ((director_ssl.certificate))
      user_management:
        provider: local
        local:
          users:
          - name: admin
            password: ((admin_password))
          - name: hm
            password: ((hm_password))
    hm:
      director_account:
        user: hm
        password: ((hm_password))
        ca_cert: ((director_ssl.ca))
      resurrector_enabled: true
cloud_provider:
  mbus: https://mbus:((mbus_bootstrap_password))@[((internal_ip))]:6868
  cert: ((mbus_bootstrap_ssl))
  properties:
    agent:
      mbus: https://mbus:((mbus_bootstrap_password))@[::]:6868
    blobstore:
      provider: local
      path: /var/vcap/micro_bosh/data/cache
variables:
"""
    v = []
    for p in ["admin_password", "blobstore_director_password", "blobstore_agent_password", "hm_password",
              "mbus_bootstrap_password", "nats_password", "postgres_password"]:
        v += password(p)
    v += cert("default_ca", is_ca=True, cn="ca")
    v += cert("mbus_bootstrap_ssl", ca="default_ca", sans=["((internal_ip))"])
    v += cert("director_ssl", ca="default_ca", sans=["((internal_ip))"])
    v += cert("nats_ca", is_ca=True, cn="default.nats-ca.bosh-internal")
    v += cert("nats_server_tls", ca="nats_ca", cn="default.nats.bosh-internal", sans=["((internal_ip))"],
              usage=["server_auth"])
    v += cert("nats_clients_director_tls", ca="nats_ca", cn="default.director.bosh-internal", usage=["client_auth"])
    v += cert("nats_clients_health_monitor_tls", ca="nats_ca", cn="default.hm.bosh-internal", usage=["client_auth"])
    v += cert("blobstore_ca", is_ca=True, cn="default.blobstore-ca.bosh-internal")
    v += cert("blobstore_server_tls", ca="blobstore_ca", sans=["((internal_ip))"])
    return m + "\n".join(v) + "\n"


def ops_cpi():
    return """- type: replace
  path: /releases/-
  value:
    name: bosh-example-cpi
    version: 1.0.0
    url: https://example.invalid/cpi-1.0.0.tgz
    sha1: 0000000000000000000000000000000000000003
- type: replace
  path: /resource_pools/name=vms/stemcell?
  value:
    url: https://example.invalid/stemcell.tgz
    sha1: 0000000000000000000000000000000000000004
- type: replace
  path: /resource_pools/name=vms/cloud_properties?
  value: {instance_type: m5.large, ephemeral_disk: {size: 25000, type: gp3}}
- type: replace
  path: /instance_groups/name=bosh/jobs/-
  value: {name: example_cpi, release: bosh-example-cpi}
- type: replace
  path: /instance_groups/name=bosh/properties/director/cpi_job?
  value: example_cpi
- type: replace
  path: /cloud_provider/template?
  value: {name: example_cpi, release: bosh-example-cpi}
- type: replace
  path: /instance_groups/name=bosh/properties/example?
  value: &cpi
    access_key_id: ((access_key_id))
    secret_access_key: ((secret_access_key))
    region: ((region))
    default_security_groups: [((default_security_groups))]
- type: replace
  path: /cloud_provider/properties/example?
  value: *cpi
"""


def ops_uaa():
    lines = """- type: replace
  path: /instance_groups/name=bosh/jobs/-
  value: {name: uaa, release: uaa}
- type: replace
  path: /releases/-
  value: {name: uaa, version: 77.0.0, url: https://example.invalid/uaa.tgz, sha1: 0000000000000000000000000000000000000005}
- type: replace
  path: /instance_groups/name=bosh/properties/uaa?
  value:
    url: https://((internal_ip)):8443
    sslCertificate: ((uaa_ssl.certificate))
    sslPrivateKey: ((uaa_ssl.private_key))
    jwt:
      policy:
        active_key_id: uaa-jwt-key-1
        keys:
          uaa-jwt-key-1:
            signingKey: ((uaa_jwt_signing_key.private_key))
    login:
      saml:
        serviceProviderCertificate: ((uaa_service_provider_ssl.certificate))
        serviceProviderKey: ((uaa_service_provider_ssl.private_key))
    scim:
      users:
      - name: admin
        password: ((admin_password))
    clients:
      hm:
        secret: ((hm_password))
      director_to_credhub:
        secret: ((uaa_clients_director_to_credhub))
    admin:
      client_secret: ((uaa_admin_client_secret))
- type: replace
  path: /instance_groups/name=bosh/properties/director/user_management/provider
  value: uaa
- type: remove
  path: /instance_groups/name=bosh/properties/director/user_management/local
"""
    v = password("uaa_admin_client_secret") + password("uaa_clients_director_to_credhub")
    v += ["- name: uaa_jwt_signing_key", "  type: rsa"]
    v += cert("uaa_ssl", ca="default_ca", sans=["((internal_ip))"])
    v += cert("uaa_service_provider_ssl", ca="default_ca", sans=["((internal_ip))"])
    return lines + "".join(f"- type: replace\n  path: /variables/-\n  value:\n" + value_block(item)
                           for item in split_vars(v))


def ops_credhub():
    lines = """- type: replace
  path: /instance_groups/name=bosh/jobs/-
  value: {name: credhub, release: credhub}
- type: replace
  path: /instance_groups/name=bosh/properties/credhub?
  value:
    port: 8844
    tls: ((credhub_tls))
    authentication:
      uaa:
        url: https://((internal_ip)):8443
        ca_certs: [((uaa_ssl.ca))]
    data_storage:
      type: postgres
      password: ((credhub_db_password))
    encryption:
      keys:
      - provider_name: internal
        key_properties:
          encryption_password: ((credhub_encryption_password))
        active: true
"""
    v = password("credhub_db_password") + password("credhub_encryption_password")
    v += cert("credhub_ca", is_ca=True, cn="CredHub CA")
    v += cert("credhub_tls", ca="credhub_ca", sans=["((internal_ip))"])
    return lines + "".join(f"- type: replace\n  path: /variables/-\n  value:\n" + value_block(item)
                           for item in split_vars(v))


def ops_jumpbox():
    return """- type: replace
  path: /instance_groups/name=bosh/jobs/-
  value: {name: user_add, release: os-conf}
- type: replace
  path: /instance_groups/name=bosh/properties/users?
  value:
  - name: jumpbox
    public_key: ((jumpbox_ssh.public_key))
- type: replace
  path: /variables/-
  value:
    name: jumpbox_ssh
    type: ssh
"""


def ops_extras():
    v = cert("syslog_ca", is_ca=True, cn="syslog-ca")
    v += cert("syslog_tls", ca="syslog_ca", cn="syslog.bosh-internal")
    v += cert("metrics_server_ca", is_ca=True, cn="metrics-server-ca")
    v += cert("metrics_server_tls", ca="metrics_server_ca", cn="metrics.bosh-internal", usage=["server_auth"])
    v += cert("metrics_server_client_tls", ca="metrics_server_ca", cn="metrics-client", usage=["client_auth"])
    v += cert("postgres_server_tls", ca="default_ca", cn="127.0.0.1", sans=["127.0.0.1", "::1"])
    v += cert("director_client_tls", ca="default_ca", cn="director-client", usage=["client_auth"])
    lines = """- type: replace
  path: /instance_groups/name=bosh/properties/syslog?
  value:
    address: ((internal_ip))
    tls:
      ca: ((syslog_tls.ca))
      certificate: ((syslog_tls.certificate))
- type: replace
  path: /instance_groups/name=bosh/properties/director/metrics_server?
  value:
    enabled: true
    tls:
      ca: ((metrics_server_tls.ca))
      certificate: ((metrics_server_tls.certificate))
      private_key: ((metrics_server_tls.private_key))
- type: replace
  path: /instance_groups/name=bosh/properties/postgres/tls?
  value: ((postgres_server_tls))
- type: replace
  path: /instance_groups/name=bosh/properties/director/client_tls?
  value: ((director_client_tls))
- type: replace
  path: /instance_groups/name=bosh/jobs/name=health_monitor:after
  value: {name: syslog_forwarder, release: syslog}
"""
    return lines + "".join(f"- type: replace\n  path: /variables/-\n  value:\n" + value_block(item)
                           for item in split_vars(v))


def split_vars(lines):
    items, current = [], []
    for line in lines:
        if line.startswith("- ") and current:
            items.append(current)
            current = []
        current.append(line)
    if current:
        items.append(current)
    return items


def value_block(item):
    out = []
    for line in item:
        body = line[2:] if line.startswith("- ") else line[2:]
        out.append("    " + body)
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    files = {
        "manifest.yml": manifest(),
        "cpi.yml": ops_cpi(),
        "uaa.yml": ops_uaa(),
        "credhub.yml": ops_credhub(),
        "jumpbox-user.yml": ops_jumpbox(),
        "extras.yml": ops_extras(),
        "vars.yml": "\n".join([
            "internal_ip: 2001:db8:0:1::6",
            "internal_cidr: 2001:db8:0:1::/64",
            "internal_gw: 2001:db8:0:1::1",
            "director_name: bosh-bench",
            "access_key_id: AKIAEXAMPLE",
            "secret_access_key: example-secret",
            "region: eu-west-1",
            "default_security_groups: bosh",
        ]) + "\n",
    }
    for name, text in files.items():
        with open(os.path.join(out, name), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
