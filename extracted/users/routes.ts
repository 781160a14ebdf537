import { Router } from 'express';
import { contract, currentUserId, validate, writeContextOf, type MountContext } from '../../service-kit';
import { Accounts } from './accounts';

/** /api/users: register, login (JWT), and the signed-in user's profile. */
export function usersRouter(context: MountContext, origin: string): Router {
  const accounts = new Accounts(context.pool, context.auth);
  const router = Router();
  router.post('/', async (req, res) => {
    res.status(201).json(await accounts.register(validate(contract.users.register, req.body), writeContextOf(origin, req)));
  });
  router.post('/login', async (req, res) => {
    res.json(await accounts.login(validate(contract.users.login, req.body)));
  });
  router.get('/me', context.auth.requireUser, async (_req, res) => {
    res.json(await accounts.profile(currentUserId(res)));
  });
  router.patch('/me', context.auth.requireUser, async (req, res) => {
    res.json(await accounts.rename(currentUserId(res), validate(contract.users.profile, req.body).name, writeContextOf(origin, req)));
  });
  return router;
}
