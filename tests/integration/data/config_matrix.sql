-- config_matrix.sql: the type-rich source table of config_matrix.sh, every
-- type of debezium-wire-format.md §1.7 that PostgreSQL 15 has without
-- extensions, and the edge values each must survive. Rows 1-10 are the
-- snapshot; config_matrix.sh streams the rest. Schema cm, not public: the
-- stack's default connector (public) must not see its 2.5 MB records.
-- Sourced by psql in the source database (and, for the DDL only, in the
-- warehouse: schemas-off users make the table themselves).
CREATE SCHEMA IF NOT EXISTS cm;
-- ddl:begin
DROP TABLE IF EXISTS cm.cm_types CASCADE;
DROP TYPE IF EXISTS cm.cm_mood CASCADE;
DROP FUNCTION IF EXISTS cm.cm_opt;
CREATE TYPE cm.cm_mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE cm.cm_types (
    id integer PRIMARY KEY,
    i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision,
    ok boolean, b1 bit(1),
    n numeric(38,0), n142 numeric(14,2), n52 numeric(5,2), nv numeric,
    m money,
    d date, t3 time(3), t6 time, ttz timetz,
    ts3 timestamp(3), ts6 timestamp, tstz timestamptz, tstz3 timestamptz(3),
    iv interval,
    c5 char(5), v80 varchar(80), tx text,
    j json, jb jsonb, u uuid, x xml, mood cm.cm_mood,
    inet4 inet, cidr4 cidr, mac macaddr, mac8 macaddr8,
    r4 int4range, r8 int8range, rn numrange, rts tsrange, rtstz tstzrange,
    rd daterange,
    bits bit(10), vbits bit varying(16),
    pt point, tsv tsvector,
    by bytea,
    a_i4 integer[], a_i8 bigint[], a_tx text[], a_v varchar(20)[],
    a_n numeric(6,2)[], a_f8 double precision[], a_ok boolean[], a_d date[],
    a_u uuid[], a_ts timestamp[], a_tstz timestamptz[], a_jb jsonb[],
    a_by bytea[], a_inet inet[]
);
-- ddl:end
ALTER TABLE cm.cm_types REPLICA IDENTITY DEFAULT;
-- cm_opt(name): the session's cm.<name> setting (config_matrix.sh sets them
-- per run in PGOPTIONS) is on. Values no connector mode can send are left
-- out where it is on: cm.precise - NaN and Infinity in an unconstrained
-- numeric (in precise mode the connector stops on them); cm.double - 38
-- nines (as a double they round past numeric(38,0)) and money above 10^7
-- (a double prints it with an exponent, which money_in refuses); cm.iso -
-- the time 24:00:00 (isostring sends it as 00:00).
CREATE OR REPLACE FUNCTION cm.cm_opt(name text) RETURNS boolean
LANGUAGE sql STABLE AS $$ SELECT coalesce(current_setting('cm.' || name, true), '') = 'on' $$;
-- cm_row(id, variant): one row of edge values; variant 0..8 picks them.
-- (Not in arrays: timestamps before 1582, which Debezium's array path reads
-- in the Julian calendar, two days off for year 1.)
CREATE OR REPLACE FUNCTION cm.cm_row(k integer, v integer)
RETURNS SETOF cm.cm_types LANGUAGE sql AS $$
SELECT k,
  (ARRAY[0, -32768, 32767, 1, -1, 0, 7, 8, 9])[v + 1]::smallint,
  (ARRAY[0, -2147483648, 2147483647, 1, -1, 0, 7, 8, 9])[v + 1]::integer,
  (ARRAY[0, -9223372036854775808, 9223372036854775807, 9007199254740993,
         -1, 0, 7, 8, 9])[v + 1]::bigint,
  (ARRAY['0', 'NaN', 'Infinity', '-Infinity', '1.5', '-3.4e38', '1e-37',
         '3.14159', '0.1'])[v + 1]::real,
  (ARRAY['0', 'NaN', 'Infinity', '-Infinity', '0.1', '-1.7976931348623157e308',
         '5e-324', '2.718281828459045', '1e15'])[v + 1]::double precision,
  v % 2 = 0, (v % 2)::bit(1),
  (ARRAY['0', '-1', CASE WHEN cm.cm_opt('double') THEN '9999999999999999999999999999999999999'
                          ELSE '99999999999999999999999999999999999999' END,
         CASE WHEN cm.cm_opt('double') THEN '-9999999999999999999999999999999999999'
              ELSE '-99999999999999999999999999999999999999' END, '12345678901234567890',
         '1', '-12', '100', '7'])[v + 1]::numeric(38,0),
  (ARRAY['0', '-0.01', '999999999999.99', '-999999999999.99', '19.99',
         '-1.50', '0.10', '100.00', '12.34'])[v + 1]::numeric(14,2),
  (ARRAY['0', '-999.99', '999.99', '0.01', '-0.01', '1.5', '2', '3.25',
         '4'])[v + 1]::numeric(5,2),
  (CASE WHEN cm.cm_opt('precise') AND v BETWEEN 1 AND 3 THEN ARRAY['0', '1', '2', '3']
   ELSE ARRAY['0', 'NaN', 'Infinity', '-Infinity',
         '0.00000000000000000000000000000000000001',
         '-12345678901234567890123456789012345678', '3.14159265358979',
         '1e20', '-0.5'] END)[v + 1]::numeric,
  (ARRAY['0', CASE WHEN cm.cm_opt('double') THEN '-1234567.89' ELSE '-92233720368547758.08' END,
         CASE WHEN cm.cm_opt('double') THEN '1234567.89' ELSE '92233720368547758.07' END, '12.34',
         '-0.01', '1', '2.5', '1000', '0.99'])[v + 1]::money,
  (ARRAY['1970-01-01', '0001-01-01', '9999-12-31', '1969-12-31', 'infinity',
         '-infinity', '2000-02-29', '1900-03-01', '2024-05-01'])[v + 1]::date,
  (ARRAY['00:00:00', '23:59:59.999', '12:00:00.001', '00:00:00.001',
         '10:15:30.123', '01:02:03', '23:00:00', '06:30:00.5',
         CASE WHEN cm.cm_opt('iso') THEN '23:59:59' ELSE '24:00:00' END])[v + 1]::time(3),
  (ARRAY['00:00:00', '23:59:59.999999', '00:00:00.000001', '12:34:56.789012',
         CASE WHEN cm.cm_opt('iso') THEN '23:59:59' ELSE '24:00:00' END,
         '01:00:00.5', '13:00:00', '07:07:07.070707',
         '11:11:11'])[v + 1]::time,
  (ARRAY['00:00:00+00', '23:59:59.999999+00', '10:15:30.123456+02',
         '12:00:00-05', '00:00:00.000001+00', '01:02:03+14', '13:00:00-12',
         '07:07:07+00', '11:11:11.5+01'])[v + 1]::timetz,
  (ARRAY['1970-01-01 00:00:00', '0001-01-01 00:00:00', '9999-12-31 23:59:59.999',
         '1969-12-31 23:59:59.999', 'infinity', '-infinity',
         '1900-01-01 00:00:00.001', '2024-05-01 10:15:30.123',
         '2000-02-29 12:00:00'])[v + 1]::timestamp(3),
  (ARRAY['1970-01-01 00:00:00', '0001-01-01 00:00:00',
         '9999-12-31 23:59:59.999999', '1969-12-31 23:59:59.999999',
         'infinity', '-infinity', '1970-01-01 00:00:00.000001',
         '2024-05-01 10:15:30.123456', '1583-10-15 01:02:03.5'])[v + 1]::timestamp,
  (ARRAY['1970-01-01 00:00:00+00', '0001-01-01 00:00:00+00',
         '9999-12-31 23:59:59.999999+00', '1969-12-31 23:59:59.999999+00',
         'infinity', '-infinity', '2024-05-01 10:15:30.123456+02',
         '1900-01-01 00:00:00.000001+00', '2000-02-29 12:00:00-08'])[v + 1]::timestamptz,
  (ARRAY['1970-01-01 00:00:00+00', '2024-05-01 10:15:30.123+00',
         '1969-12-31 23:59:59.999+00', '9999-12-31 23:59:59.999+00',
         '0001-01-01 00:00:00+00', '2000-01-01 00:00:00.001+00',
         '2010-06-15 12:00:00+05', '1950-05-05 05:05:05.5+00',
         '2030-01-01 00:00:00+00'])[v + 1]::timestamptz(3),
  (ARRAY['0', '1 year 2 months 3 days 04:05:06.78', '-1 day', '00:00:00.000001',
         '-00:00:00.000001', '10000 hours', '1 mon', '1 day -1 hour',
         '-3 years'])[v + 1]::interval,
  (ARRAY['', 'a', 'abcde', 'é', 'x y', '12345', 'Z', ' ', 'ok'])[v + 1]::char(5),
  (ARRAY['', 'plain', 'with "quotes" and \ backslash', 'tab	and
newline', 'unicode ü € 𝄞 日本', 'comma, {brace}', 'NULL', '€', 'x'])[v + 1]::varchar(80),
  (ARRAY['', 'text', 'null', '__not_placeholder', E'a\\b', 'λ', 'x', 'y', 'z'])[v + 1]::text,
  (ARRAY['{}', '{"a": 1}', '[1, 2, 3]', '"s"', 'null', '{"u": "ü"}', '1', 'true', '{"k": [null]}'])[v + 1]::json,
  (ARRAY['{}', '{"a": 1}', '[1, 2, 3]', '"s"', 'null', '{"u": "ü"}', '1', 'true', '{"k": [null]}'])[v + 1]::jsonb,
  (ARRAY['00000000-0000-0000-0000-000000000000', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
         'ffffffff-ffff-ffff-ffff-ffffffffffff', '123e4567-e89b-12d3-a456-426614174000',
         '00000000-0000-0000-0000-000000000001', 'b68a35a7-17ad-35b3-af2a-ae46edb4545b',
         'c0ffee00-0000-4000-8000-000000000000', 'deadbeef-dead-beef-dead-beefdeadbeef',
         '01234567-89ab-cdef-0123-456789abcdef'])[v + 1]::uuid,
  (ARRAY['<a/>', '<a b="1">t</a>', '<u>ü</u>', 'text only', '<x/>', '<y>1</y>', '<z/>', '<w/>', '<v/>'])[v + 1]::xml,
  (ARRAY['sad', 'ok', 'happy', 'sad', 'ok', 'happy', 'sad', 'ok', 'happy'])[v + 1]::cm.cm_mood,
  (ARRAY['0.0.0.0', '192.168.1.1/24', '::1', '10.0.0.1', '2001:db8::1/64', '255.255.255.255', '1.2.3.4', '127.0.0.1', '::'])[v + 1]::inet,
  (ARRAY['0.0.0.0/0', '192.168.0.0/16', '2001:db8::/32', '10.0.0.0/8', '::/0', '1.2.3.0/24', '1.2.0.0/16', '127.0.0.0/8', '::1/128'])[v + 1]::cidr,
  (ARRAY['00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff', '08:00:2b:01:02:03', '01:02:03:04:05:06', 'aa:bb:cc:dd:ee:ff', '00:00:00:00:00:01', '12:34:56:78:9a:bc', 'de:ad:be:ef:00:00', '0a:0b:0c:0d:0e:0f'])[v + 1]::macaddr,
  (ARRAY['00:00:00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff:ff:ff', '08:00:2b:01:02:03:04:05', '01:02:03:04:05:06:07:08', 'aa:bb:cc:dd:ee:ff:00:11', '00:00:00:00:00:00:00:01', '12:34:56:78:9a:bc:de:f0', 'de:ad:be:ef:00:00:00:00', '0a:0b:0c:0d:0e:0f:10:11'])[v + 1]::macaddr8,
  (ARRAY['empty', '[1,10)', '(,5)', '[-2147483648,2147483647)', '[3,4)', '[0,1)', '[7,)', '(,)', '[9,10)'])[v + 1]::int4range,
  (ARRAY['empty', '[1,10)', '(,5)', '[-9223372036854775808,9223372036854775807)', '[3,4)', '[0,1)', '[7,)', '(,)', '[9,10)'])[v + 1]::int8range,
  (ARRAY['empty', '[1.5,2.5)', '(,0]', '[-1e10,1e10]', '(0,0.001)', '[3,4)', '[7,)', '(,)', '[9,10)'])[v + 1]::numrange,
  (ARRAY['empty', '[2024-01-01 00:00,2024-02-01 00:00)', '(,1970-01-01)', '[0001-01-01,9999-12-31 23:59:59.999999]', '[2000-01-01,)', '(,)', '[1969-12-31 23:59:59.999999,1970-01-01)', '[2024-05-01 10:15:30.123456,2024-05-02)', '[1900-01-01,1900-01-02)'])[v + 1]::tsrange,
  (ARRAY['empty', '[2024-01-01 00:00+00,2024-02-01 00:00+00)', '(,1970-01-01 00:00+00)', '[2000-01-01 00:00+00,)', '(,)', '[2024-05-01 10:15:30.123456+02,2024-05-02 00:00+00)', '[1950-01-01 00:00+00,1950-01-02 00:00+00)', '[2030-01-01 00:00+00,2030-01-02 00:00+00)', '[2010-01-01 00:00+00,2010-01-02 00:00+00)'])[v + 1]::tstzrange,
  (ARRAY['empty', '[2024-01-01,2024-02-01)', '(,1970-01-01)', '[0001-01-01,9999-12-31]', '[2000-01-01,)', '(,)', '[1969-12-31,1970-01-01)', '[2024-05-01,2024-05-02)', '[1900-01-01,1900-01-02)'])[v + 1]::daterange,
  (ARRAY['0000000000', '1111111111', '1000000000', '0000000001', '0101010101', '1010101010', '0000000010', '0100000000', '1100110011'])[v + 1]::bit(10),
  (ARRAY['', '0', '1', '0000000000000001', '1000000000000000', '0101', '1111111111111111', '00001', '10'])[v + 1]::bit varying(16),
  (ARRAY['(0,0)', '(-1.5,2.25)', '(1e300,-1e-300)', '(3,4)', '(0.1,0.2)', '(-0,0)', '(7,8)', '(100,200)', '(1,1)'])[v + 1]::point,
  (ARRAY['', 'a b c', 'fat:2 rat:3', '''quoted'' word', 'ü', 'x', 'y:1A', 'z', 'w'])[v + 1]::tsvector,
  (ARRAY['', '\x00', '\xdeadbeef', '\x5f5f', '\x00ff00ff', '\xc3a9', '\x0a0b0c', '\x01', '\xff'])[v + 1]::bytea,
  (ARRAY['{}', '{NULL}', '{1,NULL,-2147483648}', '{2147483647}', '{0}', '{1,2,3}', '{7}', '{8}', '{9}'])[v + 1]::integer[],
  (ARRAY['{}', '{NULL}', '{9223372036854775807,-9223372036854775808}', '{9007199254740993}', '{0}', '{1}', '{7}', '{8}', '{9}'])[v + 1]::bigint[],
  (ARRAY['{}', '{NULL}', '{"","a b","q\"uote","back\\slash","NULL","ü"}', '{"{brace}","x,y"}', '{a}', '{b}', '{c}', '{d}', '{e}'])[v + 1]::text[],
  (ARRAY['{}', '{NULL}', '{"x y",z}', '{"é"}', '{a}', '{b}', '{c}', '{d}', '{e}'])[v + 1]::varchar(20)[],
  (ARRAY['{}', '{NULL}', '{0,-9999.99,9999.99}', '{0.01,NULL}', '{1.5}', '{2}', '{3}', '{4}', '{5}'])[v + 1]::numeric(6,2)[],
  (ARRAY['{}', '{NULL}', '{0,-1.5,1e300}', '{NaN,Infinity,-Infinity}', '{0.1}', '{2}', '{3}', '{4}', '{5}'])[v + 1]::double precision[],
  (ARRAY['{}', '{NULL}', '{t,f,NULL}', '{t}', '{f}', '{t,t}', '{f,f}', '{t}', '{f}'])[v + 1]::boolean[],
  (ARRAY['{}', '{NULL}', '{1970-01-01,0001-01-01,9999-12-31}', '{1969-12-31}', '{2024-05-01}', '{2000-02-29}', '{1900-03-01}', '{2001-01-01}', '{2002-02-02}'])[v + 1]::date[],
  (ARRAY['{}', '{NULL}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}', '{00000000-0000-0000-0000-000000000000}', '{ffffffff-ffff-ffff-ffff-ffffffffffff}', '{}', '{}', '{}', '{}'])[v + 1]::uuid[],
  (ARRAY['{}', '{NULL}', '{"1970-01-01 00:00:00","2024-05-01 10:15:30.123456"}', '{"1969-12-31 23:59:59.999999"}', '{"1900-01-01 00:00:00"}', '{}', '{}', '{}', '{}'])[v + 1]::timestamp[],
  (ARRAY['{}', '{NULL}', '{"1970-01-01 00:00:00+00","2024-05-01 10:15:30.123456+02"}', '{"1969-12-31 23:59:59.999999+00"}', '{}', '{}', '{}', '{}', '{}'])[v + 1]::timestamptz[],
  (ARRAY['{}', '{NULL}', '{"{\"a\": 1}","[1, 2]"}', '{"\"s\""}', '{}', '{}', '{}', '{}', '{}'])[v + 1]::jsonb[],
  (ARRAY['{}', '{NULL}', '{"\\x00","\\xdeadbeef",NULL}', '{"\\x"}', '{}', '{}', '{}', '{}', '{}'])[v + 1]::bytea[],
  (ARRAY['{}', '{NULL}', '{192.168.1.1/24,::1}', '{10.0.0.1}', '{}', '{}', '{}', '{}', '{}'])[v + 1]::inet[]
$$;
-- the snapshot: every variant once, and one row of all NULLs
INSERT INTO cm.cm_types SELECT (cm.cm_row(v + 1, v)).* FROM generate_series(0, 8) v;
INSERT INTO cm.cm_types (id) VALUES (10);
