/* node/config: defaults, the INI file and the checks that refuse a bad configuration. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "node/config.h"

static char path[64];

static void write_ini(const char *text)
{
    FILE *f;

    snprintf(path, sizeof path, "/tmp/gmcfg.XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
}

static void teardown(void)
{
    if (path[0] != 0) {
        unlink(path);
        path[0] = 0;
    }
}

TestSuite(config, .fini = teardown);

Test(config, defaults_are_valid_and_documented_values)
{
    gm_node_config_t c;
    gm_why_t why;

    gm_config_defaults(&c);
    cr_assert_eq(gm_config_validate(&c, &why), 0);
    cr_assert_str_eq(c.listen[0], "0.0.0.0:7300");
    cr_assert_eq(c.n_peers, 0);
    cr_assert_eq(c.keepalive_ms, 10000);
    cr_assert_eq(c.dead_after_ms, 30000);
    cr_assert_eq(c.max_frame, 65535);
    cr_assert_eq(c.rekey_frames, 65536);
    cr_assert_eq(c.max_link_age_s, 86400);
    cr_assert(!c.discovery);
    cr_assert(!c.has_mesh_key);
}

Test(config, ini_file_sets_every_kind_of_value)
{
    gm_node_config_t c;
    gm_why_t why;
    FILE *k;
    char key_path[80];

    snprintf(key_path, sizeof key_path, "/tmp/gmkey.%d", getpid());
    k = fopen(key_path, "w");
    fprintf(k, "%s\n", "0101010101010101010101010101010101010101010101010101010101010101");
    fclose(k);
    char text[512];
    snprintf(text, sizeof text,
             "; a comment\n[node]\nlisten = 127.0.0.1:7400, [::1]:7400\npeer = 10.1.2.3:7300\n"
             "peer = [fe80::1]:7300\nlog_level = debug\n[mesh]\nid = "
             "000102030405060708090a0b0c0d0e0f\nkey_file = %s\n[link]\nkeepalive_ms = 500\n"
             "[discovery]\nenabled = true\n",
             key_path);
    write_ini(text);
    gm_config_defaults(&c);
    cr_assert_eq(gm_config_load(&c, path, &why), 0, "%s", why.msg);
    unlink(key_path);
    cr_assert_eq(c.n_listen, 2); /* the file replaced the default listener */
    cr_assert_str_eq(c.listen[1], "[::1]:7400");
    cr_assert_eq(c.n_peers, 2);
    cr_assert_eq(c.log_level, GM_LOG_DEBUG);
    cr_assert_eq(c.mesh_id[15], 0x0f);
    cr_assert(c.has_mesh_key);
    cr_assert_eq(c.mesh_key[31], 1);
    cr_assert_eq(c.keepalive_ms, 500);
    cr_assert(c.discovery);
}

static void assert_refused(const char *text, const char *needle)
{
    gm_node_config_t c;
    gm_why_t why;

    write_ini(text);
    gm_config_defaults(&c);
    cr_assert_neq(gm_config_load(&c, path, &why), 0, "accepted: %s", text);
    cr_assert(strstr(why.msg, path) != NULL, "no file name in: %s", why.msg);
    cr_assert(strstr(why.msg, needle) != NULL, "'%s' not in: %s", needle, why.msg);
    teardown();
}

Test(config, bad_files_are_refused_naming_file_line_and_problem)
{
    assert_refused("[node]\nlisten = 127.0.0.1:7300\nspeed = 3\n", ":3: unknown key 'speed'");
    assert_refused("[nodes]\nlisten = 1.2.3.4:1\n", "unknown key 'listen' in section [nodes]");
    assert_refused("[node]\nlisten = 127.0.0.1:99999\n", "not HOST:PORT");
    assert_refused("[node]\npeer = nonsense\n", "'nonsense' is not HOST:PORT");
    assert_refused("[link]\nkeepalive_ms = -5\n", "whole number");
    assert_refused("[link]\nkeepalive_ms = 12abc\n", "whole number");
    assert_refused("[limits]\nmax_frame = 70000\n", "from 64 to 65535");
    assert_refused("[discovery]\nenabled = yes\n", "true or false");
    assert_refused("[mesh]\nid = 1234\n", "32 hex digits");
    assert_refused("[mesh]\nkey_file = /nonexistent/key\n", "/nonexistent/key");
    assert_refused("[node]\nlog_level = loud\n", "error, warn, info or debug");
    assert_refused("this is not ini\n", ":1:");
}

Test(config, missing_file_is_named)
{
    gm_node_config_t c;
    gm_why_t why;

    gm_config_defaults(&c);
    cr_assert_neq(gm_config_load(&c, "/nonexistent/guardmesh.ini", &why), 0);
    cr_assert(strstr(why.msg, "/nonexistent/guardmesh.ini") != NULL);
}

Test(config, inconsistent_settings_fail_validation)
{
    gm_node_config_t c;
    gm_why_t why;

    gm_config_defaults(&c);
    c.keepalive_ms = c.dead_after_ms;
    cr_assert_neq(gm_config_validate(&c, &why), 0);
    cr_assert(strstr(why.msg, "keepalive_ms") != NULL);
    gm_config_defaults(&c);
    c.redial_min_ms = c.redial_max_ms + 1;
    cr_assert_neq(gm_config_validate(&c, &why), 0);
    gm_config_defaults(&c);
    c.discovery = true;
    c.n_listen = 0;
    cr_assert_neq(gm_config_validate(&c, &why), 0);
}

Test(config, too_many_addresses_are_refused)
{
    gm_node_config_t c;
    gm_why_t why;
    char v[32];

    gm_config_defaults(&c);
    for (int i = 0; i < GM_MAX_ADDRS; i++) {
        snprintf(v, sizeof v, "127.0.0.1:%d", 7000 + i);
        cr_assert_eq(gm_config_set(&c, "node", "peer", v, &why), 0);
    }
    cr_assert_eq(gm_config_set(&c, "node", "peer", "127.0.0.1:1", &why), GM_ELIMIT);
}
