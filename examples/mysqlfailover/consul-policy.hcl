# ACL policy for the hooks' token (CONSUL_HTTP_TOKEN_FILE): exactly the records they manage.
node "foo-db-master" { policy = "write" }
node "foo-db-slave"  { policy = "write" }
service "mysql"      { policy = "write" }
key "foo-db-master"  { policy = "write" }
key_prefix "sengu/mysql/foo-db-master/" { policy = "write" }
