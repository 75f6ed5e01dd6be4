public int Helper(int v) => v + 1;
