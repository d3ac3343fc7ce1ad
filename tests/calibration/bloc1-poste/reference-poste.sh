# Runs after depot-lib.sh and depot.sh.
set -e
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
