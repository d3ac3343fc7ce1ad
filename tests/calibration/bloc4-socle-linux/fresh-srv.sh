# Debian's defaults: no explicit PermitRootLogin (prohibit-password applies), passwords on.
sed -i -E '/^\s*(PermitRootLogin|PasswordAuthentication|KbdInteractiveAuthentication)\b/d' \
  /etc/ssh/sshd_config.d/labgrade-test.conf
systemctl restart ssh
