// Runs the Unleash server (npm package unleash-server) for local development and tests.
// infra/unleash.ts starts this file as a daemon; configuration comes from the environment
// (DATABASE_URL, HTTP_HOST, HTTP_PORT, INIT_ADMIN_API_TOKENS, INIT_BACKEND_API_TOKENS).
const unleash = require('unleash-server');

// unleash-server 7.5 runs some event handlers as floating promises: archiving a flag and deleting it from the archive
// within about a second makes its lifecycle insert fail a foreign key, and that unhandled rejection would stop the
// whole server (Node's default). Shared by a demo and test runs, it logs such errors and keeps serving.
process.on('unhandledRejection', (reason) => {
  console.error('unleash-server: unhandled rejection (kept running):', reason);
});

unleash
  .start({
    db: { ssl: false },
    server: { host: process.env.HTTP_HOST, port: Number(process.env.HTTP_PORT) },
    logLevel: process.env.LOG_LEVEL || 'warn',
  })
  .then((instance) => {
    const stop = () => instance.stop().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  })
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
