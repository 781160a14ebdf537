import { Router } from 'express';
import { contract, currentUserId, validate, writeContextOf } from '../../../service-kit';
import type { ModuleDeps } from '../context';
import { UserService } from './service';

/** /api/users: register, login (JWT), and the signed-in user's profile. */
export function usersRouter(deps: ModuleDeps): Router {
  const service = new UserService(deps.pool, deps.auth);
  const router = Router();
  router.post('/', deps.delegation.write('user', async (req, res) => {
    res.status(201).json(await service.register(validate(contract.users.register, req.body), writeContextOf(deps.origin, req)));
  }));
  router.post('/login', async (req, res) => {
    res.json(await service.login(validate(contract.users.login, req.body)));
  });
  router.get('/me', deps.auth.requireUser, async (_req, res) => {
    res.json(await service.profile(currentUserId(res)));
  });
  router.patch('/me', deps.auth.requireUser, deps.delegation.write('user', async (req, res) => {
    res.json(await service.updateProfile(currentUserId(res), validate(contract.users.profile, req.body), writeContextOf(deps.origin, req)));
  }));
  return router;
}
