import { Router } from 'express';
import { z } from 'zod';
import { currentUserId, validate, writeContextOf, type MountContext } from '../../service-kit';
import { Accounts } from './accounts';

const registerBody = z.object({
  email: z.email(),
  name: z.string().trim().min(1).max(100),
  password: z.string().min(8).max(200),
});
const loginBody = z.object({ email: z.email(), password: z.string().min(1) });
const profileBody = z.object({ name: z.string().trim().min(1).max(100) });

/** /api/users: register, login (JWT), and the signed-in user's profile. */
export function usersRouter(context: MountContext, origin: string): Router {
  const accounts = new Accounts(context.pool, context.auth);
  const router = Router();
  router.post('/', async (req, res) => {
    res.status(201).json(await accounts.register(validate(registerBody, req.body), writeContextOf(origin, req)));
  });
  router.post('/login', async (req, res) => {
    res.json(await accounts.login(validate(loginBody, req.body)));
  });
  router.get('/me', context.auth.requireUser, async (_req, res) => {
    res.json(await accounts.profile(currentUserId(res)));
  });
  router.patch('/me', context.auth.requireUser, async (req, res) => {
    res.json(await accounts.rename(currentUserId(res), validate(profileBody, req.body).name, writeContextOf(origin, req)));
  });
  return router;
}
