# The company repository /srv/depot (a flat Debian repository built with dpkg-deb),
# as the helpdesk publishes it: not yet declared in the workstation's APT sources.
set -e
depot_package() {
  local name=$1 version=$2 dir
  dir=$(mktemp -d)
  mkdir -p "$dir/DEBIAN" "$dir/usr/bin" /srv/depot
  cat > "$dir/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: all
Maintainer: Service informatique <si@lab.example>
Description: $name, logiciel de l'entreprise
CONTROL
  printf '#!/bin/sh\necho "%s %s"\n' "$name" "$version" > "$dir/usr/bin/$name"
  chmod 0755 "$dir/usr/bin/$name"
  dpkg-deb --build --root-owner-group "$dir" "/srv/depot/${name}_${version}_all.deb" >/dev/null
  rm -rf "$dir"
}
depot_index() {
  local deb
  : > /srv/depot/Packages
  for deb in /srv/depot/*.deb; do
    {
      dpkg-deb -f "$deb"
      echo "Filename: ./$(basename "$deb")"
      echo "Size: $(stat -c %s "$deb")"
      echo "SHA256: $(sha256sum "$deb" | cut -d' ' -f1)"
      echo
    } >> /srv/depot/Packages
  done
}
depot_package gestcompta 2.3-1
depot_index

# The answer key.
hostnamectl set-hostname pc-compta01
sed -i '/^127\.0\.1\.1/d' /etc/hosts
echo '127.0.1.1 pc-compta01.lab.example pc-compta01' >> /etc/hosts

mkdir -p /etc/systemd/timesyncd.conf.d
printf '[Time]\nNTP=ntp.lab.example\n' > /etc/systemd/timesyncd.conf.d/entreprise.conf
# Test host only: timesyncd declines to run in a container (ConditionVirtualization=
# !container), which a real workstation is not; this drop-in lifts that one condition.
mkdir -p /etc/systemd/system/systemd-timesyncd.service.d
printf '[Unit]\nConditionVirtualization=\n' > /etc/systemd/system/systemd-timesyncd.service.d/test-host.conf
systemctl daemon-reload
systemctl enable --now systemd-timesyncd
ln -sf /usr/share/zoneinfo/Europe/Paris /etc/localtime
echo Europe/Paris > /etc/timezone

echo 'deb [trusted=yes] file:/srv/depot ./' > /etc/apt/sources.list.d/depot-local.list
# Only the company repository: a test host has no way out, and must not try.
apt-get -qq update -o Dir::Etc::sourcelist=sources.list.d/depot-local.list \
  -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0
apt-get -qq install -y gestcompta >/dev/null

useradd -m -s /bin/bash -G sudo admlocal
echo 'admlocal:Adm1n-Local!' | chpasswd

cat > /etc/resolv.conf <<'CONF'
nameserver 10.10.0.53
search lab.example
options timeout:1 attempts:1
CONF

mkdir -p /etc/sssd
cat > /etc/sssd/sssd.conf <<'CONF'
[sssd]
services = nss, pam
domains = lab.example

[domain/lab.example]
id_provider = ldap
auth_provider = ldap
ldap_uri = ldap://ldap.lab.example
ldap_search_base = dc=lab,dc=example
cache_credentials = true
CONF
chmod 0600 /etc/sssd/sssd.conf
sed -i -e 's/^passwd:.*/& sss/' -e 's/^group:.*/& sss/' /etc/nsswitch.conf
