<?php
/*
 * Sets up Debian's WordPress for the strangler example with WordPress's own API, as its installer and admin screens
 * would: wp_install (site, admin), pretty permalinks (so /wp-json/ routes), users, and an application password per
 * user for the REST API. Run by infra/wordpress.ts with the PHP CLI:
 *   WORDPRESS_CONFIG=<name> HTTP_HOST=127.0.0.1:<port> php setup.php < request.json
 * request: {title, admin: {login, email, password}, users: [{login, email, role}], appPasswords: {login: uuid}}
 * Prints one JSON line: {version, installedNow, users: [{id, login, uuid, password?}]} (a password only when new).
 */
$request = json_decode(stream_get_contents(STDIN), true);
$_SERVER['WORDPRESS_CONFIG'] = getenv('WORDPRESS_CONFIG');
$_SERVER['HTTP_HOST'] = getenv('HTTP_HOST');
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
define('WP_INSTALLING', true);
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';

$installedNow = false;
if (!is_blog_installed()) {
    wp_install($request['title'], $request['admin']['login'], $request['admin']['email'], false, '', $request['admin']['password']);
    $installedNow = true;
}
if (get_option('permalink_structure') !== '/%postname%/') {
    global $wp_rewrite;
    $wp_rewrite->set_permalink_structure('/%postname%/');
    flush_rewrite_rules(false);
}

$users = [];
foreach (array_merge([['login' => $request['admin']['login']]], $request['users']) as $wanted) {
    $user = get_user_by('login', $wanted['login']);
    if (!$user) {
        $id = wp_insert_user([
            'user_login' => $wanted['login'],
            'user_email' => $wanted['email'],
            'user_pass' => wp_generate_password(24),
            'display_name' => $wanted['login'],
            'role' => $wanted['role'],
        ]);
        if (is_wp_error($id)) {
            fwrite(STDERR, "wp_insert_user {$wanted['login']}: " . $id->get_error_message() . "\n");
            exit(1);
        }
        $user = get_user_by('id', $id);
    }
    $uuid = $request['appPasswords'][$wanted['login']] ?? '';
    $entry = ['id' => $user->ID, 'login' => $user->user_login];
    if ($uuid !== '' && WP_Application_Passwords::get_user_application_password($user->ID, $uuid)) {
        $entry['uuid'] = $uuid;
    } else {
        $created = WP_Application_Passwords::create_new_application_password($user->ID, ['name' => 'strangler-fig']);
        if (is_wp_error($created)) {
            fwrite(STDERR, "application password for {$wanted['login']}: " . $created->get_error_message() . "\n");
            exit(1);
        }
        $entry['uuid'] = $created[1]['uuid'];
        $entry['password'] = $created[0];
    }
    $users[] = $entry;
}
echo json_encode(['version' => get_bloginfo('version'), 'installedNow' => $installedNow, 'users' => $users]), "\n";
