"""Learned agents (PPO, DQN via stable-baselines3): not built yet (issue 4).
May import envs, baselines, torch and stable-baselines3."""
