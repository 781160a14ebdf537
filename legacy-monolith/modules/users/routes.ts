import { Router } from 'express';
import { z } from 'zod';
import { currentUserId, validate, writeContextOf } from '../../../service-kit';
import type { ModuleDeps } from '../context';
import { UserService } from './service';

const registerBody = z.object({
  email: z.email(),
  name: z.string().trim().min(1).max(100),
  password: z.string().min(8).max(200),
});
const loginBody = z.object({ email: z.email(), password: z.string().min(1) });
const profileBody = z.object({ name: z.string().trim().min(1).max(100) });

/** /api/users: register, login (JWT), and the signed-in user's profile. */
export function usersRouter(deps: ModuleDeps): Router {
  const service = new UserService(deps.pool, deps.auth);
  const router = Router();
  router.post('/', deps.delegation.write('user', async (req, res) => {
    res.status(201).json(await service.register(validate(registerBody, req.body), writeContextOf(deps.origin, req)));
  }));
  router.post('/login', async (req, res) => {
    res.json(await service.login(validate(loginBody, req.body)));
  });
  router.get('/me', deps.auth.requireUser, async (_req, res) => {
    res.json(await service.profile(currentUserId(res)));
  });
  router.patch('/me', deps.auth.requireUser, deps.delegation.write('user', async (req, res) => {
    res.json(await service.updateProfile(currentUserId(res), validate(profileBody, req.body), writeContextOf(deps.origin, req)));
  }));
  return router;
}
