CREATE TABLE "user" (id int);
CREATE TABLE user (id int);
