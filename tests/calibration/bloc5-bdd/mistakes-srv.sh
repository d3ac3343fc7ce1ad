# Typical mistakes: MariaDB listening on every address, the application account given
# every privilege on every database, root allowed in from anywhere with a password.
set -euo pipefail
pw=${LABGRADE_SECRET_APP_DB//\'/\'\'}
printf '[mysqld]\nbind-address = 0.0.0.0\nskip-name-resolve\n' > /etc/mysql/mariadb.conf.d/99-lab.cnf
systemctl restart mariadb
mysql <<SQL
GRANT ALL PRIVILEGES ON *.* TO 'app'@'10.213.%';
CREATE USER 'root'@'%' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
SQL
