import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Injectable } from '@nestjs/common';

/** This process's name in lease columns: host, pid and a random suffix (pids repeat across restarts). */
@Injectable()
export class ReplicaIdentity {
  readonly owner = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}
