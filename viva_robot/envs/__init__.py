"""One Gymnasium interface for every robot backend (DESIGN.md §2): the observation carries the camera image
(uint8 H x W x 3) and the proprioceptive state (plus, in simulation only, privileged object state), `info`
carries `success`, and the task's goal image is `env.goal_image`. Backends: `sim` (MuJoCo, here) and
`ros` (a real or simulated Franka over ROS 2, later)."""
