<?php
/*
 * Router for `php -S` in front of Debian's WordPress (docroot /usr/share/wordpress): what the package's
 * examples/apache.conf and WordPress's .htaccess do for Apache. Nothing of WordPress's code is changed.
 */

// Apache's `SetEnv WORDPRESS_CONFIG <name>`: Debian's wp-config.php then reads /etc/wordpress/config-<name>.php.
$_SERVER['WORDPRESS_CONFIG'] = getenv('WORDPRESS_CONFIG');

$root = rtrim($_SERVER['DOCUMENT_ROOT'], '/');
$path = rawurldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?? '/');
if (str_contains($path, '..')) {
    http_response_code(400);
    return true;
}

// Apache's `Alias /wp-content /var/lib/wordpress/wp-content` (themes, uploads): static files only.
if (str_starts_with($path, '/wp-content/')) {
    $file = '/var/lib/wordpress' . $path;
    $types = ['css' => 'text/css', 'js' => 'application/javascript', 'json' => 'application/json', 'svg' => 'image/svg+xml',
        'png' => 'image/png', 'jpg' => 'image/jpeg', 'gif' => 'image/gif', 'woff2' => 'font/woff2', 'txt' => 'text/plain'];
    $extension = strtolower(pathinfo($file, PATHINFO_EXTENSION));
    if (is_file($file) && isset($types[$extension])) {
        header('Content-Type: ' . $types[$extension]);
        readfile($file);
        return true;
    }
}

$script = $root . $path;
if (is_dir($script) && is_file(rtrim($script, '/') . '/index.php')) {
    $path = rtrim($path, '/') . '/index.php';
    $script = $root . $path;
}
if (is_file($script) && !str_ends_with($script, '.php')) {
    return false; // a static file: the built-in server sends it
}
if (!is_file($script)) {
    // WordPress's .htaccess: every other path goes to index.php (pretty permalinks, /wp-json/).
    $path = '/index.php';
    $script = $root . $path;
}
$_SERVER['SCRIPT_NAME'] = $path;
$_SERVER['PHP_SELF'] = $path;
$_SERVER['SCRIPT_FILENAME'] = $script;
chdir(dirname($script));
require $script;
